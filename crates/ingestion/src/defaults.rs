//! The built-in appointment-reminder variables, used by the CLI when no campaign is given and
//! as the reference set for the fixtures.

use rivvi_domain::campaign::{FieldType, PatientField, VariableDefinition, VariableDefinitionInput};

/// Extra header names seen in clinic exports, per patient-default key.
const PATIENT_ALIASES: &[(&str, &[&str])] = &[
    ("firstName", &["First Name", "Patient First", "Pt First Name", "Forename", "First_Name"]),
    ("lastName", &["Last Name", "Patient Last", "Pt Last Name", "Last_Name"]),
    (
        "dob",
        &[
            "Date of Birth",
            "D.O.B.",
            "Patient Birth Date",
            "Patient Birthdate",
            "Birthday",
            "Pt DOB",
            "Birth Dt",
        ],
    ),
    (
        "primaryPhone",
        &[
            "Phone #",
            "Mobile Phone",
            "Mobile Number",
            "Cell Number",
            "Cell #",
            "Telephone",
            "Patient Phone",
            "Primary Phone Number",
            "Preferred Phone",
            "Best Phone",
            "Phone 1",
            "Cell Phone Number",
            // Spanish, in the same order: the plain phone before the mobile, as `Phone` before
            // `Cell` (a sheet with both calls the `Teléfono`).
            "Teléfono",
            "Teléfono Principal",
            "Celular",
            "Móvil",
            "Teléfono Celular",
            "Tel. Celular",
        ],
    ),
];

/// First name, last name, date of birth and phone (required, from
/// [`VariableDefinitionInput::patient_defaults`] with more aliases); secondary phone, MRN,
/// appointment date, appointment time, provider and location (optional).
pub fn appointment_reminder() -> Vec<VariableDefinition> {
    let mut inputs = VariableDefinitionInput::patient_defaults();
    for input in &mut inputs {
        if let Some((_, extra)) = PATIENT_ALIASES.iter().find(|(key, _)| *key == input.key) {
            input.aliases.extend(extra.iter().map(|a| (*a).to_owned()));
        }
    }
    let optional = |key: &str, label: &str, field_type, role, aliases: &[&str]| VariableDefinitionInput {
        key: key.to_owned(),
        label: label.to_owned(),
        field_type,
        required: false,
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        options: Vec::new(),
        role,
    };
    inputs.extend([
        optional(
            "secondaryPhone",
            "Secondary phone",
            FieldType::Phone,
            Some(PatientField::SecondaryPhone),
            &[
                "Home Phone",
                "Home",
                "Home Phone Number",
                "Alternate Phone",
                "Alt Phone",
                "Other Phone",
                "Work Phone",
                "Phone 2",
                "Evening Phone",
                "Landline",
                "Secondary Phone Number",
                "Teléfono Casa",
                "Teléfono de Casa",
                "Teléfono Fijo",
                "Teléfono Trabajo",
                "Otro Teléfono",
                "Teléfono 2",
            ],
        ),
        optional(
            "mrn",
            "MRN",
            FieldType::Text,
            Some(PatientField::Mrn),
            &[
                "Medical Record Number",
                "Med Rec #",
                "Chart Number",
                "Chart #",
                "Patient ID",
                "Patient Number",
                "Account Number",
                "Acct #",
                "Account #",
                "PID",
                "EMR ID",
                "Person Number",
            ],
        ),
        optional(
            "appointmentDate",
            "Appointment date",
            FieldType::Date,
            None,
            &[
                "Appt Date",
                "Appt. Date",
                "Visit Date",
                "Date of Service",
                "DOS",
                "Service Date",
                "Scheduled Date",
                "Appt Day",
                "Appointment Day",
            ],
        ),
        optional(
            "appointmentTime",
            "Appointment time",
            FieldType::Time,
            None,
            &["Appt Time", "Appt. Time", "Visit Time", "Scheduled Time", "Start Time", "Appt Start", "Time"],
        ),
        optional(
            "provider",
            "Provider",
            FieldType::Text,
            None,
            &[
                "Doctor",
                "Physician",
                "Provider Name",
                "Dr",
                "Rendering Provider",
                "Attending",
                "Resource",
                "Clinician",
                "Appt Provider",
                "Provider LFI",
            ],
        ),
        optional(
            "location",
            "Location",
            FieldType::Text,
            None,
            &[
                "Clinic",
                "Office",
                "Facility",
                "Site",
                "Department",
                "Dept",
                "Appt Location",
                "Location Name",
                "Clinic Name",
                "Practice",
            ],
        ),
    ]);
    // Every input above is valid (checked by a test); `ok()` keeps library code panic-free.
    inputs.into_iter().filter_map(|input| input.validate().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rivvi_domain::campaign::NewCampaign;

    #[test]
    fn the_reminder_set_is_a_valid_campaign_with_every_variable() {
        let vars = appointment_reminder();
        let keys: Vec<&str> = vars.iter().map(VariableDefinition::key).collect();
        assert_eq!(
            keys,
            [
                "firstName",
                "lastName",
                "dob",
                "primaryPhone",
                "secondaryPhone",
                "mrn",
                "appointmentDate",
                "appointmentTime",
                "provider",
                "location"
            ]
        );
        let required: Vec<&str> = vars.iter().filter(|v| v.required()).map(VariableDefinition::key).collect();
        assert_eq!(required, ["firstName", "lastName", "dob", "primaryPhone"]);
        // A campaign refuses a header name shared by two variables: none is.
        let campaign = NewCampaign {
            name: "Reminders".into(),
            direction: rivvi_domain::campaign::Direction::Outbound,
            status: None,
            agent_id: Some("agent_3f2a9c1d0b7e".into()),
            base_prompt: "Hello {{firstName}}".into(),
            voicemail_message: None,
            variables: vars.iter().map(VariableDefinitionInput::from).collect(),
            analysis_fields: Vec::new(),
            retry_policy: None,
        };
        campaign.validate().unwrap();
    }
}
