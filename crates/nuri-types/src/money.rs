//! Money: integer milli-won everywhere (1 KRW = 1,000), prices in integer won per million tokens.
//! Floating point never touches money.

use serde::{Deserialize, Serialize};

/// An amount of money in milli-won (1 KRW = 1,000 milli-won).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct MilliWon(pub i64);

/// A model's price in integer won per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Won per million prompt tokens.
    pub input_per_million: i64,
    /// Won per million completion tokens.
    pub output_per_million: i64,
}

impl Price {
    /// True when both prices are zero: such a model is served without a grant.
    pub fn is_free(&self) -> bool {
        self.input_per_million == 0 && self.output_per_million == 0
    }

    /// The contract's one rounding rule:
    /// `ceil((prompt × input_price + completion × output_price) / 1000)` milli-won, since a price
    /// of P won per million tokens is P/1000 milli-won per token. Saturates instead of overflowing.
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> MilliWon {
        let p = i128::from(prompt_tokens) * i128::from(self.input_per_million);
        let c = i128::from(completion_tokens) * i128::from(self.output_per_million);
        let total = p + c;
        let ceil = (total + 999).div_euclid(1000);
        MilliWon(i64::try_from(ceil).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cost_rounds_up_once() {
        let price = Price {
            input_per_million: 1000,
            output_per_million: 3000,
        };
        // 1 token at 1000 won/M = 1 milli-won exactly.
        assert_eq!(price.cost(1, 0), MilliWon(1));
        // 1 token at 1250 won/M = 1.25 milli-won → 2.
        let p2 = Price {
            input_per_million: 1250,
            output_per_million: 5000,
        };
        assert_eq!(p2.cost(1, 0), MilliWon(2));
        assert_eq!(p2.cost(0, 0), MilliWon(0));
        assert_eq!(price.cost(1_000_000, 1_000_000), MilliWon(4_000_000));
    }

    proptest! {
        #[test]
        fn cost_is_monotone_and_bounded(p in 0u64..10_000_000, c in 0u64..10_000_000,
                                        ip in 0i64..100_000, op in 0i64..100_000) {
            let price = Price { input_per_million: ip, output_per_million: op };
            let cost = price.cost(p, c).0;
            let exact = i128::from(p) * i128::from(ip) + i128::from(c) * i128::from(op);
            prop_assert!(i128::from(cost) * 1000 >= exact);
            prop_assert!(i128::from(cost) * 1000 < exact + 1000);
            prop_assert!(price.cost(p + 1, c).0 >= cost);
        }
    }
}
