//! The fixed set of PII labels named in the contract ("Data dam"), and their wire names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A kind of personal (or, for [`Label::KrCrn`], organisational) identifier.
///
/// The wire name of each variant (`as_str`, `Display`, serde) is fixed by the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    /// `KR_RRN`: resident registration number (주민등록번호).
    KrRrn,
    /// `KR_FRN`: foreigner registration number (외국인등록번호).
    KrFrn,
    /// `KR_BRN`: business registration number (사업자등록번호).
    KrBrn,
    /// `KR_CRN`: corporate registration number (법인등록번호); not personal.
    KrCrn,
    /// `KR_PASSPORT`: Korean passport number (old and 2021 formats).
    KrPassport,
    /// `KR_DRIVER_LICENSE`: driver licence number (운전면허번호).
    KrDriverLicense,
    /// `PHONE`: Korean mobile/landline numbers and international E.164 numbers.
    Phone,
    /// `EMAIL`: e-mail address.
    Email,
    /// `CARD`: payment card number (Luhn-valid, known issuer range).
    Card,
    /// `BANK_ACCOUNT`: bank account number, only next to a bank name or keyword.
    BankAccount,
    /// `KR_HEALTH_INSURANCE`: health-insurance number, only next to a keyword.
    KrHealthInsurance,
    /// `IP`: public IPv4 or IPv6 address.
    Ip,
    /// `KR_ADDRESS`: Korean road-name address down to the building number and unit.
    KrAddress,
    /// `PERSON`: a person's name in an honorific, title or "name:" context.
    Person,
}

impl Label {
    /// Every label, in contract order.
    pub const ALL: [Label; 14] = [
        Label::KrRrn,
        Label::KrFrn,
        Label::KrBrn,
        Label::KrCrn,
        Label::KrPassport,
        Label::KrDriverLicense,
        Label::Phone,
        Label::Email,
        Label::Card,
        Label::BankAccount,
        Label::KrHealthInsurance,
        Label::Ip,
        Label::KrAddress,
        Label::Person,
    ];

    /// The contract's wire name, e.g. `KR_RRN`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Label::KrRrn => "KR_RRN",
            Label::KrFrn => "KR_FRN",
            Label::KrBrn => "KR_BRN",
            Label::KrCrn => "KR_CRN",
            Label::KrPassport => "KR_PASSPORT",
            Label::KrDriverLicense => "KR_DRIVER_LICENSE",
            Label::Phone => "PHONE",
            Label::Email => "EMAIL",
            Label::Card => "CARD",
            Label::BankAccount => "BANK_ACCOUNT",
            Label::KrHealthInsurance => "KR_HEALTH_INSURANCE",
            Label::Ip => "IP",
            Label::KrAddress => "KR_ADDRESS",
            Label::Person => "PERSON",
        }
    }

    /// Whether the label identifies a natural person. Only `KR_CRN` (a company) is not.
    pub const fn is_personal(self) -> bool {
        !matches!(self, Label::KrCrn)
    }

    /// Whether the label's validation includes a check digit (RRN, FRN, BRN, CRN, card).
    pub const fn has_checksum(self) -> bool {
        matches!(
            self,
            Label::KrRrn | Label::KrFrn | Label::KrBrn | Label::KrCrn | Label::Card
        )
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a string that names no label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLabel(pub String);

impl fmt::Display for UnknownLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown PII label `{}`", self.0)
    }
}

impl std::error::Error for UnknownLabel {}

impl FromStr for Label {
    type Err = UnknownLabel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Label::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownLabel(s.to_owned()))
    }
}

impl Serialize for Label {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for l in Label::ALL {
            assert_eq!(l.as_str().parse::<Label>(), Ok(l));
            let json = serde_json::to_string(&l).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", l.as_str()));
            let back: Label = serde_json::from_str(&json).unwrap_or(Label::Person);
            assert_eq!(back, l);
        }
        assert!("kr_rrn".parse::<Label>().is_err());
    }

    #[test]
    fn only_crn_is_not_personal() {
        let non: Vec<_> = Label::ALL
            .into_iter()
            .filter(|l| !l.is_personal())
            .collect();
        assert_eq!(non, vec![Label::KrCrn]);
    }
}
