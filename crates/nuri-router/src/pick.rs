//! [`pick_route`]: which route of a model serves the next attempt.

use rand::Rng;

/// How a model spreads requests over the routes of one priority.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Balancing {
    /// Random, in proportion to the routes' weights.
    #[default]
    Weighted,
    /// Power of two choices: draw two routes by weight, take the one with the lower load
    /// ([`crate::LatencyTracker::load`]).
    Latency,
}

/// What [`pick_route`] needs to know about one route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Relative share within its priority (0: never chosen).
    pub weight: u32,
    /// Lower numbers are tried first; higher ones only when no lower one is available.
    pub priority: u32,
    /// False when failing, breaker open, rate-limited upstream, or already tried for this request.
    pub available: bool,
    /// The route's current load, for [`Balancing::Latency`] (lower is better).
    pub load: f64,
}

/// The index of the route to use, or `None` when no route is available. Only the lowest priority
/// number that has an available route with a positive weight is considered.
pub fn pick_route<R: Rng + ?Sized>(
    candidates: &[Candidate],
    balancing: Balancing,
    rng: &mut R,
) -> Option<usize> {
    let usable = |c: &Candidate| c.available && c.weight > 0;
    let priority = candidates
        .iter()
        .filter(|c| usable(c))
        .map(|c| c.priority)
        .min()?;
    let in_group = |c: &Candidate| usable(c) && c.priority == priority;
    let first = weighted(candidates, rng, |_, c| in_group(c))?;
    match balancing {
        Balancing::Weighted => Some(first),
        Balancing::Latency => match weighted(candidates, rng, |i, c| in_group(c) && i != first) {
            None => Some(first),
            Some(second) if candidates[second].load < candidates[first].load => Some(second),
            Some(_) => Some(first),
        },
    }
}

/// The order in which to try every available route for one request: repeated [`pick_route`],
/// each pick removed from the next draw. Priority numbers never decrease along the order.
pub fn route_order<R: Rng + ?Sized>(
    candidates: &[Candidate],
    balancing: Balancing,
    rng: &mut R,
) -> Vec<usize> {
    let mut remaining = candidates.to_vec();
    let mut order = Vec::with_capacity(candidates.len());
    while let Some(i) = pick_route(&remaining, balancing, rng) {
        order.push(i);
        remaining[i].available = false;
    }
    order
}

/// A weighted random index among the candidates `eligible` accepts.
fn weighted<R: Rng + ?Sized>(
    candidates: &[Candidate],
    rng: &mut R,
    eligible: impl Fn(usize, &Candidate) -> bool,
) -> Option<usize> {
    let total: u64 = candidates
        .iter()
        .enumerate()
        .filter(|(i, c)| eligible(*i, c))
        .map(|(_, c)| u64::from(c.weight))
        .sum();
    if total == 0 {
        return None;
    }
    let mut ticket = rng.gen_range(0..total);
    for (i, c) in candidates.iter().enumerate() {
        if !eligible(i, c) {
            continue;
        }
        let weight = u64::from(c.weight);
        if ticket < weight {
            return Some(i);
        }
        ticket -= weight;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn route(weight: u32, priority: u32, available: bool, load: f64) -> Candidate {
        Candidate {
            weight,
            priority,
            available,
            load,
        }
    }

    #[test]
    fn falls_back_to_the_next_priority_only_when_needed() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut routes = vec![route(1, 0, true, 1.0), route(5, 1, true, 1.0)];
        for _ in 0..100 {
            assert_eq!(pick_route(&routes, Balancing::Weighted, &mut rng), Some(0));
        }
        routes[0].available = false;
        assert_eq!(pick_route(&routes, Balancing::Weighted, &mut rng), Some(1));
        routes[1].available = false;
        assert_eq!(pick_route(&routes, Balancing::Latency, &mut rng), None);
    }

    #[test]
    fn weighted_follows_the_weights() {
        let mut rng = StdRng::seed_from_u64(11);
        let routes = [
            route(3, 0, true, 0.0),
            route(1, 0, true, 0.0),
            route(0, 0, true, 0.0),
        ];
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[pick_route(&routes, Balancing::Weighted, &mut rng).unwrap()] += 1;
        }
        assert_eq!(counts[2], 0);
        let share = f64::from(counts[0]) / 40_000.0;
        assert!((0.73..0.77).contains(&share), "{share}");
    }

    #[test]
    fn latency_prefers_the_less_loaded_route() {
        let mut rng = StdRng::seed_from_u64(13);
        let routes = [route(1, 0, true, 50.0), route(1, 0, true, 5.0)];
        for _ in 0..100 {
            assert_eq!(pick_route(&routes, Balancing::Latency, &mut rng), Some(1));
        }
    }

    fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
        prop::collection::vec(
            (0u32..4, 0u32..3, any::<bool>(), 0.0f64..100.0)
                .prop_map(|(w, p, a, l)| route(w, p, a, l)),
            0..8,
        )
    }

    proptest! {
        #[test]
        fn picks_an_available_route_of_the_lowest_available_priority(
            routes in candidates(),
            latency in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let mut rng = StdRng::seed_from_u64(seed);
            let balancing = if latency { Balancing::Latency } else { Balancing::Weighted };
            let best = routes.iter().filter(|c| c.available && c.weight > 0).map(|c| c.priority).min();
            match pick_route(&routes, balancing, &mut rng) {
                None => prop_assert!(best.is_none()),
                Some(i) => {
                    prop_assert!(routes[i].available && routes[i].weight > 0);
                    prop_assert_eq!(Some(routes[i].priority), best);
                }
            }
        }

        #[test]
        fn route_order_tries_each_available_route_once_by_priority(
            routes in candidates(),
            latency in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let mut rng = StdRng::seed_from_u64(seed);
            let balancing = if latency { Balancing::Latency } else { Balancing::Weighted };
            let order = route_order(&routes, balancing, &mut rng);
            let mut expected: Vec<usize> = (0..routes.len())
                .filter(|&i| routes[i].available && routes[i].weight > 0)
                .collect();
            let mut sorted = order.clone();
            sorted.sort_unstable();
            expected.sort_unstable();
            prop_assert_eq!(sorted, expected);
            prop_assert!(order.windows(2).all(|w| routes[w[0]].priority <= routes[w[1]].priority));
        }

        #[test]
        fn p2c_never_picks_the_strictly_worst_of_several(routes in candidates(), seed in any::<u64>()) {
            let mut rng = StdRng::seed_from_u64(seed);
            if let Some(i) = pick_route(&routes, Balancing::Latency, &mut rng) {
                let group: Vec<_> = routes.iter()
                    .filter(|c| c.available && c.weight > 0 && c.priority == routes[i].priority)
                    .collect();
                let worst = group.iter().map(|c| c.load).fold(f64::MIN, f64::max);
                let strictly_worst = group.iter().filter(|c| c.load == worst).count() == 1;
                if group.len() >= 2 && strictly_worst {
                    prop_assert!(routes[i].load < worst);
                }
            }
        }
    }
}
