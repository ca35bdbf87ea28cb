//! What the audit log records: who acted (the actor kind) and what they did (the action).
//!
//! Actions are `entity.verb` strings, stored as written here. Add a variant rather than a free
//! string, so every action the log can hold is listed in one place.

string_enum! {
    /// Who performed an audited change.
    pub enum ActorKind("actor kind") {
        /// A member or admin of the organization.
        User = "user",
        /// A Rivvi operator acting on any organization.
        SuperAdmin = "super_admin",
        /// A verified provider or identity webhook (Retell, Clerk).
        Webhook = "webhook",
        /// The engine or a background job.
        System = "system",
    }
}

string_enum! {
    /// An audited action.
    pub enum AuditAction("audit action") {
        /// An organization was created (by a webhook or just in time).
        OrganizationCreated = "organization.created",
        /// An organization's settings changed.
        OrganizationUpdated = "organization.updated",
        /// An organization was deleted.
        OrganizationDeleted = "organization.deleted",
        /// An operator assigned a phone number to the organization.
        PhoneNumberAssigned = "phone_number.assigned",
        /// An operator released one of the organization's phone numbers.
        PhoneNumberReleased = "phone_number.released",
        /// A super admin read or changed another organization.
        OrganizationAccessed = "organization.accessed",
        /// A user joined an organization.
        MembershipCreated = "membership.created",
        /// A member's role changed.
        MembershipUpdated = "membership.updated",
        /// A user left or was removed from an organization.
        MembershipDeleted = "membership.deleted",
        /// A campaign was created.
        CampaignCreated = "campaign.created",
        /// A campaign's configuration changed.
        CampaignUpdated = "campaign.updated",
        /// A campaign was archived.
        CampaignArchived = "campaign.archived",
        /// An operator linked the campaign built for a request.
        CampaignRequestFulfilled = "campaign_request.fulfilled",
        /// A new prompt version was saved (base prompt, voicemail or run instructions).
        PromptVersionCreated = "prompt_version.created",
        /// An AI-suggested prompt variation was drafted.
        PromptVariationSuggested = "prompt_variation.suggested",
        /// A prompt variation became the campaign's prompt.
        PromptVariationApplied = "prompt_variation.applied",
        /// A file was uploaded.
        UploadCreated = "upload.created",
        /// A run was created from an upload.
        RunCreated = "run.created",
        /// A run was scheduled or rescheduled.
        RunScheduled = "run.scheduled",
        /// A run was started.
        RunStarted = "run.started",
        /// A run was paused.
        RunPaused = "run.paused",
        /// A run was resumed.
        RunResumed = "run.resumed",
        /// A run was cancelled.
        RunCancelled = "run.cancelled",
        /// A run completed.
        RunCompleted = "run.completed",
        /// A run failed.
        RunFailed = "run.failed",
        /// Run results or calls were exported (the file holds PHI).
        ExportCreated = "export.created",
        /// A one-off call was placed by hand.
        CallCreated = "call.created",
        /// A patient record was created by hand.
        PatientCreated = "patient.created",
        /// A patient record was changed by hand.
        PatientUpdated = "patient.updated",
        /// A number was added to a patient's contact points: a sheet (or someone at the clinic)
        /// showed a known patient with a new number. The entry names the contact point's id, never
        /// the number.
        PatientPhoneAdded = "patient.phone_added",
        /// A number was added to the do-not-call list.
        DoNotCallAdded = "do_not_call.added",
        /// A number was removed from the do-not-call list.
        DoNotCallRemoved = "do_not_call.removed",
        /// An organization asked for a new campaign.
        CampaignRequestCreated = "campaign_request.created",
        /// An operator approved, rejected or fulfilled a campaign request.
        CampaignRequestUpdated = "campaign_request.updated",
        /// A patient's record was read in full (`patients.get`).
        PatientViewed = "patient.viewed",
        /// A page of patients was read (`patients.list`).
        PatientsListed = "patient.listed",
        /// Patients were looked up by phone number (`patients.searchByPhone`).
        PatientsSearched = "patient.searched",
        /// A call was read in full: numbers, transcript, summary, analysis (`calls.get`).
        CallViewed = "call.viewed",
        /// A page of a run's rows was read (`runs.getRows`).
        RunRowsViewed = "run.rows_viewed",
        /// An upload's rows were read into a preview (`runs.preview`).
        UploadPreviewed = "upload.previewed",
        /// Retention deleted the organization's expired uploads and cleared expired transcripts,
        /// summaries and recording URLs (a system action; the entry names counts only).
        RetentionPurged = "retention.purged",
    }
}

string_enum! {
    /// Whether an audit entry records a change or a read of patient data (HIPAA's audit controls
    /// ask for both).
    pub enum AuditKind("audit kind") {
        /// Something was created, changed or deleted.
        Change = "change",
        /// Data holding PHI was read (or shown to an operator of another organization).
        Read = "read",
    }
}

impl AuditAction {
    /// The kind of entity the action is about: the part before the dot (`campaign`).
    pub fn entity(self) -> &'static str {
        self.as_str().split_once('.').map_or(self.as_str(), |(entity, _)| entity)
    }

    /// Whether the action reads data rather than changing it.
    pub fn kind(self) -> AuditKind {
        use AuditAction::*;
        match self {
            PatientViewed | PatientsListed | PatientsSearched | CallViewed | RunRowsViewed
            | UploadPreviewed | ExportCreated | OrganizationAccessed => AuditKind::Read,
            _ => AuditKind::Change,
        }
    }

    /// Every action of `kind`.
    pub fn of_kind(kind: AuditKind) -> impl Iterator<Item = AuditAction> {
        AuditAction::ALL.iter().copied().filter(move |a| a.kind() == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_action_is_a_unique_entity_dot_verb_string() {
        let mut seen = HashSet::new();
        for &action in AuditAction::ALL {
            let s = action.as_str();
            assert!(seen.insert(s), "{s} twice");
            let (entity, verb) = s.split_once('.').unwrap();
            assert!(!entity.is_empty() && !verb.is_empty() && !verb.contains('.'), "{s}");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'), "{s}");
            assert_eq!(s.parse::<AuditAction>(), Ok(action));
            assert_eq!(serde_json::to_value(action).unwrap(), s);
        }
    }

    #[test]
    fn actions_name_their_entity() {
        assert_eq!(AuditAction::CampaignUpdated.entity(), "campaign");
        assert_eq!(AuditAction::DoNotCallAdded.entity(), "do_not_call");
        assert_eq!(AuditAction::OrganizationUpdated.to_string(), "organization.updated");
    }

    #[test]
    fn reads_of_patient_data_are_read_entries_and_the_rest_changes() {
        let reads: Vec<&str> = AuditAction::of_kind(AuditKind::Read).map(AuditAction::as_str).collect();
        assert_eq!(
            reads,
            [
                "organization.accessed",
                "export.created",
                "patient.viewed",
                "patient.listed",
                "patient.searched",
                "call.viewed",
                "run.rows_viewed",
                "upload.previewed"
            ]
        );
        assert_eq!(AuditAction::RunStarted.kind(), AuditKind::Change);
        assert_eq!(AuditAction::of_kind(AuditKind::Change).count() + reads.len(), AuditAction::ALL.len());
    }

    #[test]
    fn actor_kinds_use_snake_case() {
        let names: Vec<_> = ActorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, ["user", "super_admin", "webhook", "system"]);
        assert_eq!("super_admin".parse::<ActorKind>(), Ok(ActorKind::SuperAdmin));
    }
}
