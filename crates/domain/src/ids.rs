//! Typed identifiers, so an organization id can never be passed where a campaign id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id (UUID v7), so ids sort by creation and index well.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// The underlying UUID, for storage.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(/// An organization (a clinic, or the operator organization).
    OrgId);
id_type!(/// A person who signs in through Clerk.
    UserId);
id_type!(/// An outreach campaign configured by operators.
    CampaignId);
id_type!(/// A file uploaded by an organization.
    UploadId);
id_type!(/// One run of a campaign over one uploaded sheet.
    RunId);
id_type!(/// One row of a run's sheet: one call target.
    RunRowId);
id_type!(/// A patient of one organization.
    PatientId);
id_type!(/// One phone call, outbound or inbound.
    CallId);
id_type!(/// One saved version of a campaign's composed prompt.
    PromptVersionId);
id_type!(/// One AI-suggested variation of a campaign's prompt.
    PromptVariationId);
id_type!(/// A clinic's request for a campaign.
    CampaignRequestId);
id_type!(/// One audit log entry.
    AuditEntryId);
