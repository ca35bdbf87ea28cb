//! Campaigns: the agent, prompt, variables, analysis fields and retry policy operators configure,
//! and the `campaigns.create` / `campaigns.update` inputs.
//!
//! Decisions:
//! - `direction` is fixed at creation (runs and inbound routing depend on it): it is not in
//!   [`CampaignUpdate`], which refuses unknown fields.
//! - An outbound campaign must declare a variable with role `phone`, or no row could be dialled.
//! - Variable keys may not shadow the values the engine sends ([`builtins::ENGINE_VARIABLES`]).
//! - Every `{{placeholder}}` in the base prompt and the voicemail must be a declared variable
//!   key or a built-in ([`builtins::is_builtin`]).
//! - A header name (key, label or alias, ignoring case and punctuation) may belong to only one
//!   variable, so ingestion never has to guess.
//! - An update is merged into the current definition and the result validated as a whole, so
//!   cross-field rules (placeholders, roles) hold after every change.

mod analysis;
pub mod builtins;
pub mod request;
mod variable;

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

pub use analysis::{
    AnalysisField, AnalysisFieldInput, AnalysisFieldType, MAX_ANALYSIS_FIELDS, MAX_DESCRIPTION_CHARS,
};
pub use variable::{
    normalize_header, FieldType, PatientField, VariableDefinition, VariableDefinitionInput, MAX_ALIASES,
    MAX_LABEL_CHARS, MAX_OPTIONS, MAX_VARIABLES,
};

use crate::patch::Patch;
use crate::prompt::placeholders;
use crate::retry::{RetryPolicy, RetryPolicyInput};
use crate::validation::{multi_line, single_line, ValidationErrors};

/// The longest campaign name, in characters.
pub const MAX_CAMPAIGN_NAME_CHARS: usize = 120;
/// The longest base prompt, in characters.
pub const MAX_BASE_PROMPT_CHARS: usize = 50_000;
/// The longest voicemail message, in characters.
pub const MAX_VOICEMAIL_CHARS: usize = 2_000;

string_enum! {
    /// Whether a campaign places calls or answers them.
    pub enum Direction("direction") {
        /// Rivvi calls the patients of a run.
        Outbound = "outbound",
        /// Patients call the organization's number.
        Inbound = "inbound",
    }
}

string_enum! {
    /// Whether a campaign can be used.
    pub enum CampaignStatus("campaign status") {
        /// New runs may use it.
        Active = "active",
        /// No new runs; existing ones continue.
        Paused = "paused",
        /// Retired: hidden from lists, no new runs.
        Archived = "archived",
    }
}

string_enum! {
    /// A top-level campaign field, for reporting what an update changed.
    pub enum CampaignField("campaign field") {
        /// `name`.
        Name = "name",
        /// `status`.
        Status = "status",
        /// `agentId`.
        AgentId = "agentId",
        /// `basePrompt`.
        BasePrompt = "basePrompt",
        /// `voicemailMessage`.
        VoicemailMessage = "voicemailMessage",
        /// `variables`.
        Variables = "variables",
        /// `analysisFields`.
        AnalysisFields = "analysisFields",
        /// `retryPolicy`.
        RetryPolicy = "retryPolicy",
    }
}

/// A voice provider (Retell) agent id such as `agent_3f2a9c1d0b7e`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(transparent))]
#[serde(try_from = "String", into = "String")]
pub struct AgentId(String);

/// An agent id that does not look like one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a Retell agent id such as agent_3f2a9c1d0b7e")]
pub struct AgentIdError;

impl AgentId {
    /// `agent_` followed by 1..=64 letters, digits, `_` or `-`, starting with a letter or digit
    /// (and not the reserved [`AgentId::unprovisioned`]).
    pub fn parse(input: &str) -> Result<AgentId, AgentIdError> {
        let id = input.trim();
        let rest = id.strip_prefix("agent_").ok_or(AgentIdError)?;
        let ok = (1..=64).contains(&rest.len())
            && rest.starts_with(|c: char| c.is_ascii_alphanumeric())
            && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && id != UNPROVISIONED_AGENT;
        if ok {
            Ok(AgentId(id.to_owned()))
        } else {
            Err(AgentIdError)
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Stands for the agent Rivvi has yet to create, in a campaign validated without an
    /// `agentId`; [`CampaignDefinition::with_agent`] replaces it before the campaign is saved.
    pub fn unprovisioned() -> AgentId {
        AgentId(UNPROVISIONED_AGENT.to_owned())
    }

    /// Whether this is [`AgentId::unprovisioned`].
    pub fn is_unprovisioned(&self) -> bool {
        self.0 == UNPROVISIONED_AGENT
    }
}

/// Not a Retell id (Retell's are hex): it cannot collide with a real agent.
const UNPROVISIONED_AGENT: &str = "agent_unprovisioned";

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AgentId {
    type Error = AgentIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AgentId> for String {
    fn from(id: AgentId) -> String {
        id.0
    }
}

/// A validated campaign configuration, as stored and as returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", try_from = "NewCampaign")]
pub struct CampaignDefinition {
    name: String,
    direction: Direction,
    status: CampaignStatus,
    agent_id: AgentId,
    base_prompt: String,
    voicemail_message: Option<String>,
    variables: Vec<VariableDefinition>,
    analysis_fields: Vec<AnalysisField>,
    retry_policy: RetryPolicy,
}

/// A campaign's parts as stored: each was validated when the campaign was written, and
/// [`CampaignDefinition::from_stored`] puts them back together without checking them again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCampaign {
    /// Display name.
    pub name: String,
    /// Outbound or inbound.
    pub direction: Direction,
    /// Active, paused or archived.
    pub status: CampaignStatus,
    /// The provider's agent.
    pub agent_id: AgentId,
    /// The prompt.
    pub base_prompt: String,
    /// The voicemail message.
    pub voicemail_message: Option<String>,
    /// Declared variables.
    pub variables: Vec<VariableDefinition>,
    /// Post-call analysis fields.
    pub analysis_fields: Vec<AnalysisField>,
    /// How unanswered calls are retried.
    pub retry_policy: RetryPolicy,
}

impl CampaignDefinition {
    /// A campaign read back from storage, where only validated definitions are written: the
    /// rules between fields (placeholders declared, keys unique) held when it was saved.
    pub fn from_stored(stored: StoredCampaign) -> Self {
        CampaignDefinition {
            name: stored.name,
            direction: stored.direction,
            status: stored.status,
            agent_id: stored.agent_id,
            base_prompt: stored.base_prompt,
            voicemail_message: stored.voicemail_message,
            variables: stored.variables,
            analysis_fields: stored.analysis_fields,
            retry_policy: stored.retry_policy,
        }
    }

    /// Display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Outbound or inbound.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Active, paused or archived.
    pub fn status(&self) -> CampaignStatus {
        self.status
    }

    /// The provider agent that places the calls.
    pub fn agent_id(&self) -> &AgentId {
        &self.agent_id
    }

    /// The campaign as a run froze it: these variables, analysis fields and voicemail text in
    /// place of the current ones (they were valid together when the run was created).
    pub fn as_frozen(
        self,
        variables: Vec<VariableDefinition>,
        analysis_fields: Vec<AnalysisField>,
        voicemail_message: Option<String>,
    ) -> Self {
        CampaignDefinition { variables, analysis_fields, voicemail_message, ..self }
    }

    /// The same campaign on `agent` (the agent Rivvi provisioned for it).
    pub fn with_agent(self, agent: AgentId) -> Self {
        CampaignDefinition { agent_id: agent, ..self }
    }

    /// The prompt, with `{{placeholders}}`.
    pub fn base_prompt(&self) -> &str {
        &self.base_prompt
    }

    /// The message left on voicemail, if any.
    pub fn voicemail_message(&self) -> Option<&str> {
        self.voicemail_message.as_deref()
    }

    /// Declared variables, in order.
    pub fn variables(&self) -> &[VariableDefinition] {
        &self.variables
    }

    /// Analysis fields, in order.
    pub fn analysis_fields(&self) -> &[AnalysisField] {
        &self.analysis_fields
    }

    /// The main KPI field, if one is marked.
    pub fn main_kpi(&self) -> Option<&AnalysisField> {
        self.analysis_fields.iter().find(|f| f.is_main_kpi())
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry_policy
    }

    /// The variable that fills a patient field, if any.
    pub fn variable_for(&self, role: PatientField) -> Option<&VariableDefinition> {
        self.variables.iter().find(|v| v.role() == Some(role))
    }

    /// The placeholders in `text` that are neither declared variables nor built-ins, for
    /// checking run instructions before they are saved.
    pub fn undeclared_placeholders(&self, text: &str) -> Vec<String> {
        let declared: HashSet<&str> = self.variables.iter().map(VariableDefinition::key).collect();
        undeclared(text, &declared)
    }
}

fn undeclared(text: &str, declared: &HashSet<&str>) -> Vec<String> {
    placeholders(text)
        .into_iter()
        .filter(|p| !declared.contains(p.as_str()) && !builtins::is_builtin(p))
        .collect()
}

fn undeclared_reason(names: &[String]) -> String {
    format!(
        "uses undeclared variables: {}; declare them under variables or use a built-in such as organization_name",
        names.join(", ")
    )
}

/// `campaigns.create` input, and the stored form of a campaign before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCampaign {
    /// Display name, 1..=120 characters.
    pub name: String,
    /// Outbound or inbound; fixed once created.
    pub direction: Direction,
    /// Defaults to active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub status: Option<CampaignStatus>,
    /// An existing Retell agent id such as `agent_3f2a9c1d0b7e`, which Rivvi then only versions;
    /// absent, Rivvi creates and manages the campaign's Retell LLM and agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub agent_id: Option<String>,
    /// The prompt, 1..=50000 characters, with `{{placeholders}}`.
    pub base_prompt: String,
    /// Voicemail message, at most 2000 characters; blank means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub voicemail_message: Option<String>,
    /// Declared variables, at most 100.
    #[serde(default)]
    pub variables: Vec<VariableDefinitionInput>,
    /// Post-call analysis fields, at most 100.
    #[serde(default)]
    pub analysis_fields: Vec<AnalysisFieldInput>,
    /// Defaults to [`RetryPolicy::default`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub retry_policy: Option<RetryPolicyInput>,
}

impl NewCampaign {
    /// Validates every field and the rules between them, reporting all failures at once.
    pub fn validate(self) -> Result<CampaignDefinition, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", single_line(&self.name, MAX_CAMPAIGN_NAME_CHARS));
        let agent_id = match self.agent_id.as_deref() {
            Some(agent) => errors.check("agentId", AgentId::parse(agent)),
            None => Some(AgentId::unprovisioned()),
        };
        let base_prompt = errors.check("basePrompt", multi_line(&self.base_prompt, MAX_BASE_PROMPT_CHARS));
        let voicemail_message = match self.voicemail_message.as_deref() {
            Some(v) if !v.trim().is_empty() => {
                errors.check("voicemailMessage", multi_line(v, MAX_VOICEMAIL_CHARS)).map(Some)
            }
            _ => Some(None),
        };

        // Placeholders are checked against every key as written, valid or not, so one bad
        // variable does not also make each of its uses an error.
        let declared: HashSet<&str> = self.variables.iter().map(|v| v.key.trim()).collect();
        for (field, text) in [
            ("basePrompt", Some(self.base_prompt.as_str())),
            ("voicemailMessage", self.voicemail_message.as_deref()),
        ] {
            let missing = text.map(|t| undeclared(t, &declared)).unwrap_or_default();
            if !missing.is_empty() {
                errors.push(field, undeclared_reason(&missing));
            }
        }

        let variables = validate_variables(&mut errors, self.direction, self.variables);
        let analysis_fields = validate_analysis_fields(&mut errors, self.analysis_fields);
        let retry_policy = match self.retry_policy.map(RetryPolicyInput::validate) {
            None => Some(RetryPolicy::default()),
            Some(Ok(policy)) => Some(policy),
            Some(Err(e)) => {
                errors.nest("retryPolicy", e);
                None
            }
        };

        match (name, agent_id, base_prompt, voicemail_message, retry_policy) {
            (Some(name), Some(agent_id), Some(base_prompt), Some(voicemail_message), Some(retry_policy))
                if errors.is_empty() =>
            {
                Ok(CampaignDefinition {
                    name,
                    direction: self.direction,
                    status: self.status.unwrap_or(CampaignStatus::Active),
                    agent_id,
                    base_prompt,
                    voicemail_message,
                    variables,
                    analysis_fields,
                    retry_policy,
                })
            }
            _ => Err(errors),
        }
    }
}

fn validate_variables(
    errors: &mut ValidationErrors,
    direction: Direction,
    inputs: Vec<VariableDefinitionInput>,
) -> Vec<VariableDefinition> {
    if inputs.len() > MAX_VARIABLES {
        errors.push("variables", format_args!("must declare at most {MAX_VARIABLES} variables"));
    }
    let mut out: Vec<VariableDefinition> = Vec::with_capacity(inputs.len());
    // Normalised header name -> index of the variable that claimed it.
    let mut headers: HashMap<String, usize> = HashMap::new();
    let mut roles: HashMap<PatientField, usize> = HashMap::new();
    let mut any_invalid = false;
    for (i, input) in inputs.into_iter().enumerate() {
        let path = format!("variables[{i}]");
        let variable = match input.validate() {
            Ok(v) => v,
            Err(e) => {
                errors.nest(&path, e);
                any_invalid = true;
                continue;
            }
        };
        if let Some(first) = out.iter().position(|v| v.key() == variable.key()) {
            errors.push(format!("{path}.key"), format_args!("repeats the key of variables[{first}]"));
            continue;
        }
        if builtins::is_engine_variable(variable.key()) {
            let names: Vec<&str> = builtins::ENGINE_VARIABLES.iter().map(|v| v.name).collect();
            errors.push(
                format!("{path}.key"),
                format_args!(
                    "is a built-in variable the engine sends; choose another key (built-in: {})",
                    names.join(", ")
                ),
            );
        }
        if let Some(role) = variable.role() {
            if let Some(first) = roles.insert(role, i) {
                errors.push(format!("{path}.role"), format_args!("repeats the role of variables[{first}]"));
            }
        }
        // Key and label collisions with another variable are errors on this variable's label or
        // aliases; an alias equal to its own label is harmless.
        let names = std::iter::once(("label".to_owned(), variable.label()))
            .chain(variable.aliases().iter().enumerate().map(|(j, a)| (format!("aliases[{j}]"), a.as_str())));
        let mut own: HashSet<String> = HashSet::from([normalize_header(variable.key())]);
        if let Some(&other) = headers.get(&normalize_header(variable.key())) {
            errors.push(format!("{path}.key"), format_args!("is also a header name of variables[{other}]"));
        }
        for (field, name) in names {
            let normalized = normalize_header(name);
            match headers.get(&normalized) {
                Some(&other) => errors.push(
                    format!("{path}.{field}"),
                    format_args!("is also a header name of variables[{other}]"),
                ),
                None => {
                    own.insert(normalized);
                }
            }
        }
        for name in own {
            headers.entry(name).or_insert(i);
        }
        out.push(variable);
    }
    // When a variable failed validation it may have been the phone one: say nothing then.
    let has_phone = out.iter().any(|v| v.role() == Some(PatientField::Phone));
    if direction == Direction::Outbound && !has_phone && !any_invalid {
        errors.push("variables", "must include a variable with role phone: an outbound campaign dials it");
    }
    out
}

fn validate_analysis_fields(
    errors: &mut ValidationErrors,
    inputs: Vec<AnalysisFieldInput>,
) -> Vec<AnalysisField> {
    if inputs.len() > MAX_ANALYSIS_FIELDS {
        errors.push("analysisFields", format_args!("must declare at most {MAX_ANALYSIS_FIELDS} fields"));
    }
    let mut out: Vec<AnalysisField> = Vec::with_capacity(inputs.len());
    let mut main_kpi: Option<usize> = None;
    for (i, input) in inputs.into_iter().enumerate() {
        let path = format!("analysisFields[{i}]");
        let field = match input.validate() {
            Ok(f) => f,
            Err(e) => {
                errors.nest(&path, e);
                continue;
            }
        };
        if let Some(first) = out.iter().position(|f| f.key() == field.key()) {
            errors.push(format!("{path}.key"), format_args!("repeats the key of analysisFields[{first}]"));
        }
        if field.is_main_kpi() {
            match main_kpi {
                Some(first) => errors.push(
                    format!("{path}.isMainKpi"),
                    format_args!("must be false: analysisFields[{first}] is already the main kpi"),
                ),
                None => main_kpi = Some(i),
            }
        }
        out.push(field);
    }
    out
}

impl TryFrom<NewCampaign> for CampaignDefinition {
    type Error = ValidationErrors;
    fn try_from(input: NewCampaign) -> Result<Self, Self::Error> {
        input.validate()
    }
}

impl From<&CampaignDefinition> for NewCampaign {
    fn from(c: &CampaignDefinition) -> Self {
        NewCampaign {
            name: c.name.clone(),
            direction: c.direction,
            status: Some(c.status),
            agent_id: Some(c.agent_id.0.clone()),
            base_prompt: c.base_prompt.clone(),
            voicemail_message: c.voicemail_message.clone(),
            variables: c.variables.iter().map(Into::into).collect(),
            analysis_fields: c.analysis_fields.iter().map(Into::into).collect(),
            retry_policy: Some((&c.retry_policy).into()),
        }
    }
}

/// `campaigns.update` input: a PATCH. Absent fields are unchanged; `voicemailMessage: null`
/// removes the voicemail; `variables` and `analysisFields` replace the whole list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CampaignUpdate {
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub name: Option<String>,
    /// New status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub status: Option<CampaignStatus>,
    /// New agent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub agent_id: Option<String>,
    /// New base prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub base_prompt: Option<String>,
    /// New voicemail message, or `null` to remove it.
    // `default` after `skip_serializing_if`: specta reads them in order, and only `default`
    // marks the field optional (`?`) in TypeScript.
    #[serde(skip_serializing_if = "Patch::is_keep", default)]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub voicemail_message: Patch<String>,
    /// Replacement variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub variables: Option<Vec<VariableDefinitionInput>>,
    /// Replacement analysis fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub analysis_fields: Option<Vec<AnalysisFieldInput>>,
    /// Replacement retry policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub retry_policy: Option<RetryPolicyInput>,
}

/// A validated [`CampaignUpdate`]: the whole new definition and what differs from the old one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCampaignUpdate {
    /// The campaign after the update.
    pub definition: CampaignDefinition,
    /// Fields whose value changed, in declaration order (for the audit log).
    pub changed: Vec<CampaignField>,
}

impl ValidCampaignUpdate {
    /// Whether the base prompt or voicemail changed, which calls for a new prompt version.
    pub fn prompt_changed(&self) -> bool {
        self.changed.iter().any(|f| matches!(f, CampaignField::BasePrompt | CampaignField::VoicemailMessage))
    }
}

impl CampaignUpdate {
    /// Merges this update into `current` and validates the result as a whole, reporting all
    /// failures at once (paths as in [`NewCampaign`]).
    pub fn validate(self, current: &CampaignDefinition) -> Result<ValidCampaignUpdate, ValidationErrors> {
        let mut merged = NewCampaign::from(current);
        if let Some(name) = self.name {
            merged.name = name;
        }
        if let Some(status) = self.status {
            merged.status = Some(status);
        }
        if let Some(agent_id) = self.agent_id {
            merged.agent_id = Some(agent_id);
        }
        if let Some(base_prompt) = self.base_prompt {
            merged.base_prompt = base_prompt;
        }
        self.voicemail_message.apply_to(&mut merged.voicemail_message);
        if let Some(variables) = self.variables {
            merged.variables = variables;
        }
        if let Some(analysis_fields) = self.analysis_fields {
            merged.analysis_fields = analysis_fields;
        }
        if let Some(retry_policy) = self.retry_policy {
            merged.retry_policy = Some(retry_policy);
        }
        let definition = merged.validate()?;
        let changed = CampaignField::ALL
            .iter()
            .copied()
            .filter(|field| match field {
                CampaignField::Name => definition.name != current.name,
                CampaignField::Status => definition.status != current.status,
                CampaignField::AgentId => definition.agent_id != current.agent_id,
                CampaignField::BasePrompt => definition.base_prompt != current.base_prompt,
                CampaignField::VoicemailMessage => definition.voicemail_message != current.voicemail_message,
                CampaignField::Variables => definition.variables != current.variables,
                CampaignField::AnalysisFields => definition.analysis_fields != current.analysis_fields,
                CampaignField::RetryPolicy => definition.retry_policy != current.retry_policy,
            })
            .collect();
        Ok(ValidCampaignUpdate { definition, changed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn phone_variable() -> Value {
        json!({"key": "primaryPhone", "label": "Patient phone", "fieldType": "phone", "required": true, "role": "phone",
               "aliases": ["Primary Phone", "Cell Phone"]})
    }

    fn new_campaign(overrides: Value) -> NewCampaign {
        let mut base = json!({
            "name": "Appointment confirmations",
            "direction": "outbound",
            "agentId": "agent_3f2a9c1d0b7e",
            "basePrompt": "Hi {{first_name}}, this is {{organization_name}} about your visit on {{appt_date}}.\n{{run_instructions}}",
            "voicemailMessage": "Please call {{organization_name}} back.",
            "variables": [
                phone_variable(),
                {"key": "appt_date", "label": "Appointment date", "fieldType": "date", "aliases": ["APPT DATE"]}
            ],
            "analysisFields": [
                {"key": "appt_confirmed", "label": "Confirmed", "fieldType": "boolean", "isMainKpi": true},
                {"key": "reason", "label": "Reason", "fieldType": "enum", "options": ["sick", "travel"]}
            ]
        });
        if let (Some(base), Some(overrides)) = (base.as_object_mut(), overrides.as_object()) {
            for (k, v) in overrides {
                base.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(base).unwrap()
    }

    fn fields(errors: &ValidationErrors) -> Vec<&str> {
        errors.errors().iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_complete_campaign_validates_with_defaults_filled_in() {
        let c = new_campaign(json!({})).validate().unwrap();
        assert_eq!(c.status(), CampaignStatus::Active);
        assert_eq!(c.retry_policy(), &RetryPolicy::default());
        assert_eq!(c.main_kpi().map(AnalysisField::key), Some("appt_confirmed"));
        assert_eq!(c.variable_for(PatientField::Phone).map(VariableDefinition::key), Some("primaryPhone"));
        assert_eq!(c.agent_id().as_str(), "agent_3f2a9c1d0b7e");
    }

    #[test]
    fn a_stored_campaign_round_trips_through_json() {
        let c = new_campaign(json!({})).validate().unwrap();
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["basePrompt"], c.base_prompt());
        assert_eq!(json["retryPolicy"]["maxAttempts"], 3);
        assert_eq!(serde_json::from_value::<CampaignDefinition>(json).unwrap(), c);
    }

    #[test]
    fn undeclared_placeholders_are_named_in_the_error() {
        let errors = new_campaign(json!({
            "basePrompt": "Hi {{ first_name }}, about {{appt_date}} at {{ appt_location }} with {{provider}}.",
            "voicemailMessage": "Call {{clinic_phone}}."
        }))
        .validate()
        .unwrap_err();
        assert_eq!(
            errors.reason_for("basePrompt"),
            Some("uses undeclared variables: appt_location, provider; declare them under variables or use a built-in such as organization_name")
        );
        assert!(errors.reason_for("voicemailMessage").is_some_and(|r| r.contains("clinic_phone")));
    }

    #[test]
    fn every_invalid_field_is_reported_at_once() {
        let errors = new_campaign(json!({
            "name": "",
            "agentId": "llm_123",
            "basePrompt": "   ",
            "voicemailMessage": "x".repeat(2_001),
            "variables": [
                phone_variable(),
                {"key": "appt_date", "label": "Appointment date", "fieldType": "date"},
                {"key": "appt_date", "label": "Date 2", "fieldType": "date"},
                {"key": "Bad Key", "label": "Bad", "fieldType": "text"},
                {"key": "phone", "label": "Home", "fieldType": "phone"},
                {"key": "mobile", "label": "Mobile", "fieldType": "phone", "role": "phone"},
                {"key": "when", "label": "When", "fieldType": "time", "aliases": ["appt-date"]}
            ],
            "analysisFields": [
                {"key": "a", "label": "A", "fieldType": "boolean", "isMainKpi": true},
                {"key": "a", "label": "A again", "fieldType": "boolean"},
                {"key": "b", "label": "B", "fieldType": "boolean", "isMainKpi": true},
                {"key": "c", "label": "C", "fieldType": "enum"}
            ],
            "retryPolicy": {"maxAttempts": 0, "retryOn": [], "delayMinutes": 60}
        }))
        .validate()
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "name",
                "agentId",
                "basePrompt",
                "voicemailMessage",
                "variables[2].key",
                "variables[3].key",
                "variables[4].key",
                "variables[5].role",
                "variables[6].aliases[0]",
                "analysisFields[1].key",
                "analysisFields[2].isMainKpi",
                "analysisFields[3].options",
                "retryPolicy.maxAttempts",
            ],
            "{errors}"
        );
        assert_eq!(errors.reason_for("variables[2].key"), Some("repeats the key of variables[1]"));
        assert_eq!(errors.reason_for("variables[5].role"), Some("repeats the role of variables[0]"));
        assert_eq!(
            errors.reason_for("variables[6].aliases[0]"),
            Some("is also a header name of variables[1]")
        );
        assert_eq!(
            errors.reason_for("analysisFields[2].isMainKpi"),
            Some("must be false: analysisFields[0] is already the main kpi")
        );
    }

    #[test]
    fn a_variable_named_like_a_built_in_is_refused_and_the_error_lists_the_built_ins() {
        let vars = json!([
            {"key": "primaryPhone", "label": "Phone", "fieldType": "phone", "required": true, "role": "phone"},
            {"key": "first_name", "label": "First name", "fieldType": "text"}
        ]);
        let errors = new_campaign(json!({"variables": vars})).validate().unwrap_err();
        let reason = errors.reason_for("variables[1].key").unwrap();
        assert!(reason.starts_with("is a built-in variable the engine sends"), "{reason}");
        for builtin in builtins::ENGINE_VARIABLES {
            assert!(reason.contains(builtin.name), "{reason} lists {}", builtin.name);
        }
    }

    #[test]
    fn an_outbound_campaign_needs_a_phone_variable_but_an_inbound_one_does_not() {
        let vars = json!([{"key": "appt_date", "label": "Appointment date", "fieldType": "date"}]);
        let errors = new_campaign(json!({"variables": vars})).validate().unwrap_err();
        assert_eq!(fields(&errors), ["variables"]);
        assert!(new_campaign(json!({"variables": vars, "direction": "inbound"})).validate().is_ok());
    }

    #[test]
    fn limits_are_inclusive() {
        let long_prompt = format!("{}{{{{first_name}}}}", "x".repeat(MAX_BASE_PROMPT_CHARS - 14));
        assert_eq!(long_prompt.chars().count(), MAX_BASE_PROMPT_CHARS);
        let cases = [
            (json!({"name": "n".repeat(120)}), true),
            (json!({"name": "n".repeat(121)}), false),
            (json!({"basePrompt": long_prompt}), true),
            (json!({"basePrompt": format!("{long_prompt}x")}), false),
            (json!({"voicemailMessage": "v".repeat(2_000)}), true),
            (json!({"voicemailMessage": "   "}), true),
            (json!({"voicemailMessage": null}), true),
        ];
        for (overrides, ok) in cases {
            let result = new_campaign(overrides.clone()).validate();
            assert_eq!(result.is_ok(), ok, "{overrides:.80}");
        }
    }

    #[test]
    fn agent_ids_look_like_retell_ids() {
        for ok in ["agent_3f2a9c1d0b7e", "agent_x", "agent_sim-01", " agent_ABC123 "] {
            assert!(AgentId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "agent_",
            "agent__x",
            "llm_3f2a",
            "3f2a9c1d",
            "agent_3f 2a",
            &format!("agent_{}", "a".repeat(65)),
        ] {
            assert_eq!(AgentId::parse(bad), Err(AgentIdError), "{bad}");
        }
    }

    #[test]
    fn an_update_changes_only_what_it_names_and_reports_it() {
        let current = new_campaign(json!({})).validate().unwrap();
        let update: CampaignUpdate = serde_json::from_value(json!({
            "basePrompt": "Hello {{first_name}} from {{organization_name}}.",
            "name": "Appointment confirmations",
            "status": "paused"
        }))
        .unwrap();
        let valid = update.validate(&current).unwrap();
        assert_eq!(valid.changed, [CampaignField::Status, CampaignField::BasePrompt]);
        assert!(valid.prompt_changed());
        assert_eq!(valid.definition.status(), CampaignStatus::Paused);
        assert_eq!(valid.definition.variables(), current.variables());
    }

    #[test]
    fn an_update_is_checked_against_the_rest_of_the_campaign() {
        let current = new_campaign(json!({})).validate().unwrap();
        // Dropping a variable the prompt still uses.
        let update: CampaignUpdate =
            serde_json::from_value(json!({"variables": [phone_variable()]})).unwrap();
        let errors = update.validate(&current).unwrap_err();
        assert!(errors.reason_for("basePrompt").is_some_and(|r| r.contains("appt_date")), "{errors}");
    }

    #[test]
    fn a_null_voicemail_removes_it_and_the_direction_cannot_change() {
        let current = new_campaign(json!({})).validate().unwrap();
        let update: CampaignUpdate = serde_json::from_value(json!({"voicemailMessage": null})).unwrap();
        let valid = update.validate(&current).unwrap();
        assert_eq!(valid.definition.voicemail_message(), None);
        assert_eq!(valid.changed, [CampaignField::VoicemailMessage]);

        assert!(serde_json::from_value::<CampaignUpdate>(json!({"direction": "inbound"})).is_err());
    }

    #[test]
    fn an_empty_update_changes_nothing() {
        let current = new_campaign(json!({})).validate().unwrap();
        let valid = CampaignUpdate::default().validate(&current).unwrap();
        assert!(valid.changed.is_empty());
        assert!(!valid.prompt_changed());
        assert_eq!(valid.definition, current);
    }

    #[test]
    fn run_instructions_can_be_checked_for_undeclared_placeholders() {
        let c = new_campaign(json!({})).validate().unwrap();
        assert_eq!(c.undeclared_placeholders("Mention {{appt_date}} and {{parking}}"), ["parking"]);
    }

    #[test]
    fn statuses_and_directions_use_their_stored_names() {
        assert_eq!("archived".parse::<CampaignStatus>(), Ok(CampaignStatus::Archived));
        assert_eq!(Direction::Inbound.as_str(), "inbound");
        assert_eq!(serde_json::to_value(CampaignField::AgentId).unwrap(), "agentId");
    }
}
