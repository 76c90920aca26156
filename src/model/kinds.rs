//! The closed vocabularies of the model (field types, activities, channels), spelled the same in
//! the DSL and in TOML. Each parses from its word and prints back to it.

use crate::diagnostics::suggest;
use std::fmt;
use std::str::FromStr;

/// Type of a schema field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    String,
    Int,
    /// A decimal number.
    Decimal,
    /// A decimal amount of money (may carry a currency symbol and thousands separators).
    Money,
    Bool,
    Date,
    DateTime,
    /// A list of strings.
    List,
}

impl FieldType {
    pub const WORDS: [&'static str; 8] = [
        "string", "int", "decimal", "money", "bool", "date", "datetime", "list",
    ];
    const ALL: [FieldType; 8] = [
        FieldType::String,
        FieldType::Int,
        FieldType::Decimal,
        FieldType::Money,
        FieldType::Bool,
        FieldType::Date,
        FieldType::DateTime,
        FieldType::List,
    ];

    pub fn word(self) -> &'static str {
        Self::WORDS[Self::ALL.iter().position(|&t| t == self).expect("listed")]
    }

    /// Number-like types (int, decimal, money).
    pub fn is_numeric(self) -> bool {
        matches!(self, FieldType::Int | FieldType::Decimal | FieldType::Money)
    }
}

/// The customer-management activity a trigger serves.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Activity {
    Targeting,
    Conversion,
    Welcome,
    Retention,
    ValueDevelopment,
    Dissatisfaction,
    Winback,
    /// `custom:<name>`.
    Custom(String),
}

impl Activity {
    /// Selling or promotion, which a service (transactional) trigger may not serve: every
    /// activity but dissatisfaction, welcome and custom ones (a welcome with an offer is
    /// marketing too: see `check`).
    pub fn is_marketing(&self) -> bool {
        !matches!(
            self,
            Activity::Dissatisfaction | Activity::Welcome | Activity::Custom(_)
        )
    }

    pub const WORDS: [&'static str; 7] = [
        "targeting",
        "conversion",
        "welcome",
        "retention",
        "value_development",
        "dissatisfaction",
        "winback",
    ];
}

/// The channel a trigger speaks through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    Email,
    Sms,
    Push,
    Call,
    DirectMail,
    /// `custom:<name>`.
    Custom(String),
}

impl ChannelKind {
    pub const WORDS: [&'static str; 5] = ["email", "sms", "push", "call", "direct_mail"];
}

/// Parses `word` against a closed list, or `custom:<name>` when `custom` is given.
fn parse_word<T>(
    word: &str,
    what: &str,
    words: &[&'static str],
    of: impl Fn(usize) -> T,
    custom: Option<fn(String) -> T>,
) -> Result<T, String> {
    if let Some(i) = words.iter().position(|w| *w == word) {
        return Ok(of(i));
    }
    if let (Some(make), Some(name)) = (custom, word.strip_prefix("custom:")) {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if valid {
            return Ok(make(name.to_string()));
        }
        return Err(format!(
            "`{word}` is not a valid custom {what}: use letters, digits, `_` or `-` after `custom:`"
        ));
    }
    let mut msg = format!(
        "unknown {what} `{word}`, expected one of {}",
        words
            .iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if custom.is_some() {
        msg.push_str(" or `custom:<name>`");
    }
    if let Some(hint) = suggest(word, words.iter().copied()) {
        msg.push_str(&format!(" ({hint})"));
    }
    Err(msg)
}

impl FromStr for FieldType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_word(s, "field type", &Self::WORDS, |i| Self::ALL[i], None)
    }
}

impl FromStr for Activity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let all = [
            Activity::Targeting,
            Activity::Conversion,
            Activity::Welcome,
            Activity::Retention,
            Activity::ValueDevelopment,
            Activity::Dissatisfaction,
            Activity::Winback,
        ];
        parse_word(
            s,
            "activity",
            &Self::WORDS,
            |i| all[i].clone(),
            Some(Activity::Custom),
        )
    }
}

impl FromStr for ChannelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let all = [
            ChannelKind::Email,
            ChannelKind::Sms,
            ChannelKind::Push,
            ChannelKind::Call,
            ChannelKind::DirectMail,
        ];
        parse_word(
            s,
            "channel",
            &Self::WORDS,
            |i| all[i].clone(),
            Some(ChannelKind::Custom),
        )
    }
}

/// Why an eligible trigger did not fire. The reasons that name a cap or another trigger hold
/// its index in the rule set; [`crate::model::RuleSet::reasons`] writes each as its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Suppression {
    /// The customer has not consented to the trigger's channel (false or missing).
    Consent,
    /// The customer is on the run's do-not-contact list for the trigger's channel.
    SuppressedList,
    /// The customer is in the rule set's global holdout.
    Holdout,
    /// The customer entered the trigger before, and its `reentry` does not let them in again
    /// yet (or ever).
    Reentry,
    /// The trigger contacted the customer within its `cooldown`.
    Cooldown,
    /// The rule set's frequency cap of this index is reached: `cap:<channel>:<window>`.
    Cap(u16),
    /// The customer is in the trigger's own holdout: its control arm, recorded, not contacted.
    TriggerHoldout,
    /// Higher-priority triggers took every place allowed by `max_triggers`.
    MaxTriggers,
    /// Higher-priority triggers took every place `max_per_channel` allows on its channel.
    ChannelLimit,
    /// A limit was full and the trigger lost the stable-hash draw to this trigger, of the
    /// same priority.
    LostTo(u16),
    /// This trigger, declared exclusive with it, fires for the customer.
    ExcludedBy(u16),
    /// The trigger's `volume` for the run went to customers ranked higher.
    Volume,
}

impl Suppression {
    /// The reason's code when it names nothing: `consent`, `suppressed_list`,
    /// `holdout:global`, `reentry`, `cooldown`, `cap:max_triggers`, `cap:channel` or `volume`.
    pub fn plain_code(self) -> Option<&'static str> {
        Some(match self {
            Suppression::Consent => "consent",
            Suppression::SuppressedList => "suppressed_list",
            Suppression::Holdout => "holdout:global",
            Suppression::Reentry => "reentry",
            Suppression::Cooldown => "cooldown",
            Suppression::MaxTriggers => "cap:max_triggers",
            Suppression::ChannelLimit => "cap:channel",
            Suppression::Volume => "volume",
            Suppression::Cap(_)
            | Suppression::TriggerHoldout
            | Suppression::LostTo(_)
            | Suppression::ExcludedBy(_) => return None,
        })
    }
}

/// Which side of a trigger's measurement a customer who entered it is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arm {
    /// Contacted.
    Treated,
    /// Held out by the trigger's own holdout: recorded, never contacted.
    Control,
}

impl Arm {
    /// `treated` or `control`, as outputs and the contact history write it.
    pub fn word(self) -> &'static str {
        match self {
            Arm::Treated => "treated",
            Arm::Control => "control",
        }
    }
}

impl FromStr for Arm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_word(
            s,
            "arm",
            &["treated", "control"],
            |i| [Arm::Treated, Arm::Control][i],
            None,
        )
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activity::Targeting => f.write_str("targeting"),
            Activity::Conversion => f.write_str("conversion"),
            Activity::Welcome => f.write_str("welcome"),
            Activity::Retention => f.write_str("retention"),
            Activity::ValueDevelopment => f.write_str("value_development"),
            Activity::Dissatisfaction => f.write_str("dissatisfaction"),
            Activity::Winback => f.write_str("winback"),
            Activity::Custom(name) => write!(f, "custom:{name}"),
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelKind::Email => f.write_str("email"),
            ChannelKind::Sms => f.write_str("sms"),
            ChannelKind::Push => f.write_str("push"),
            ChannelKind::Call => f.write_str("call"),
            ChannelKind::DirectMail => f.write_str("direct_mail"),
            ChannelKind::Custom(name) => write!(f, "custom:{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for w in FieldType::WORDS {
            assert_eq!(w.parse::<FieldType>().unwrap().to_string(), w);
        }
        for w in Activity::WORDS.iter().chain(&["custom:vip_event"]) {
            assert_eq!(w.parse::<Activity>().unwrap().to_string(), *w);
        }
        for w in ChannelKind::WORDS.iter().chain(&["custom:whatsapp"]) {
            assert_eq!(w.parse::<ChannelKind>().unwrap().to_string(), *w);
        }
    }

    #[test]
    fn unknown_words_suggest_the_closest() {
        let err = "retntion".parse::<Activity>().unwrap_err();
        assert!(err.contains("did you mean `retention`?"), "{err}");
        let err = "custom:".parse::<ChannelKind>().unwrap_err();
        assert!(err.contains("not a valid custom channel"), "{err}");
    }
}
