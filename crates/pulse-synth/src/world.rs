//! The fixed world every account lives in: the observation window, the
//! customer-success team (owners and how good each one is), company-wide
//! platform incidents, and the vocabularies (industries, regions and states,
//! plans and prices, people's names) accounts draw from.
//!
//! Everything here depends only on the [`SynthConfig`], never on an account,
//! so accounts can be generated in any order on any thread.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use pulse_core::time::{Day, SECONDS_PER_DAY, Ts};

use crate::SynthConfig;
use crate::cal;
use crate::text::Topic;

/// A plan: its name, monthly base fee, price per employee per month and
/// how many key features it has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) name: &'static str,
    pub(crate) base_fee: f64,
    pub(crate) pepm: f64,
    pub(crate) features: i64,
}

pub(crate) const PLANS: [Plan; 3] = [
    Plan {
        name: "essentials",
        base_fee: 39.0,
        pepm: 6.0,
        features: 6,
    },
    Plan {
        name: "professional",
        base_fee: 99.0,
        pepm: 10.0,
        features: 10,
    },
    Plan {
        name: "enterprise",
        base_fee: 299.0,
        pepm: 15.0,
        features: 14,
    },
];

/// An industry: its code, the words its company names use, how many of the
/// base it makes up, and how often its businesses close or get acquired
/// (a multiplier on the segment's exogenous churn rate).
pub(crate) struct Industry {
    pub(crate) code: &'static str,
    pub(crate) noun: &'static str,
    pub(crate) words: &'static [&'static str],
    pub(crate) weight: f64,
    pub(crate) exo: f64,
    /// Weekly headcount volatility (hospitality and retail hire and lose
    /// staff all year).
    pub(crate) churny_staff: f64,
}

pub(crate) const INDUSTRIES: &[Industry] = &[
    Industry {
        code: "healthcare",
        noun: "clinic",
        words: &[
            "Dental",
            "Family Medicine",
            "Pediatrics",
            "Home Health",
            "Physical Therapy",
            "Veterinary",
        ],
        weight: 12.0,
        exo: 0.8,
        churny_staff: 0.010,
    },
    Industry {
        code: "retail",
        noun: "retailer",
        words: &[
            "Outfitters",
            "Hardware",
            "Boutique",
            "Market",
            "Supply",
            "Goods",
        ],
        weight: 10.0,
        exo: 1.3,
        churny_staff: 0.018,
    },
    Industry {
        code: "hospitality",
        noun: "restaurant group",
        words: &[
            "Kitchen",
            "Bistro",
            "Hospitality",
            "Tacos",
            "Coffee",
            "Brewing",
        ],
        weight: 10.0,
        exo: 1.7,
        churny_staff: 0.022,
    },
    Industry {
        code: "construction",
        noun: "contractor",
        words: &[
            "Builders",
            "Construction",
            "Roofing",
            "Electric",
            "Plumbing",
            "Concrete",
        ],
        weight: 9.0,
        exo: 1.2,
        churny_staff: 0.016,
    },
    Industry {
        code: "professional_services",
        noun: "firm",
        words: &[
            "Consulting",
            "Law Group",
            "Accounting",
            "Advisors",
            "Partners",
            "Design",
        ],
        weight: 14.0,
        exo: 0.8,
        churny_staff: 0.008,
    },
    Industry {
        code: "manufacturing",
        noun: "manufacturer",
        words: &[
            "Manufacturing",
            "Fabrication",
            "Plastics",
            "Industries",
            "Machining",
            "Packaging",
        ],
        weight: 9.0,
        exo: 0.9,
        churny_staff: 0.010,
    },
    Industry {
        code: "technology",
        noun: "software company",
        words: &[
            "Labs",
            "Software",
            "Systems",
            "Analytics",
            "Digital",
            "Networks",
        ],
        weight: 12.0,
        exo: 1.1,
        churny_staff: 0.012,
    },
    Industry {
        code: "nonprofit",
        noun: "nonprofit",
        words: &[
            "Foundation",
            "Community Services",
            "Alliance",
            "Food Bank",
            "Youth League",
            "Arts Council",
        ],
        weight: 6.0,
        exo: 0.7,
        churny_staff: 0.009,
    },
    Industry {
        code: "education",
        noun: "school",
        words: &[
            "Academy",
            "Learning Center",
            "Montessori",
            "Prep",
            "Tutoring",
            "College",
        ],
        weight: 5.0,
        exo: 0.6,
        churny_staff: 0.009,
    },
    Industry {
        code: "logistics",
        noun: "logistics company",
        words: &[
            "Logistics",
            "Freight",
            "Transport",
            "Couriers",
            "Moving",
            "Distribution",
        ],
        weight: 6.0,
        exo: 1.1,
        churny_staff: 0.015,
    },
    Industry {
        code: "real_estate",
        noun: "property manager",
        words: &[
            "Realty",
            "Properties",
            "Property Management",
            "Homes",
            "Estates",
            "Land Co",
        ],
        weight: 4.0,
        exo: 1.0,
        churny_staff: 0.010,
    },
    Industry {
        code: "financial_services",
        noun: "financial firm",
        words: &[
            "Capital",
            "Wealth",
            "Insurance",
            "Credit Union",
            "Financial",
            "Lending",
        ],
        weight: 3.0,
        exo: 0.7,
        churny_staff: 0.008,
    },
];

/// A sales region and the states its customers have employees in.
pub(crate) struct Region {
    pub(crate) name: &'static str,
    pub(crate) states: &'static [&'static str],
}

pub(crate) const REGIONS: &[Region] = &[
    Region {
        name: "northeast",
        states: &[
            "New York",
            "New Jersey",
            "Pennsylvania",
            "Massachusetts",
            "Connecticut",
            "New Hampshire",
            "Maine",
            "Rhode Island",
        ],
    },
    Region {
        name: "southeast",
        states: &[
            "Florida",
            "Georgia",
            "North Carolina",
            "South Carolina",
            "Virginia",
            "Tennessee",
            "Alabama",
        ],
    },
    Region {
        name: "midwest",
        states: &[
            "Illinois",
            "Ohio",
            "Michigan",
            "Indiana",
            "Wisconsin",
            "Minnesota",
            "Missouri",
            "Iowa",
        ],
    },
    Region {
        name: "southwest",
        states: &["Texas", "Arizona", "New Mexico", "Oklahoma", "Nevada"],
    },
    Region {
        name: "west",
        states: &[
            "California",
            "Washington",
            "Oregon",
            "Colorado",
            "Utah",
            "Idaho",
        ],
    },
];

pub(crate) const PLACE_WORDS: &[&str] = &[
    "Acorn",
    "Alder",
    "Aspen",
    "Bayside",
    "Beacon",
    "Birchwood",
    "Blue Heron",
    "Bluebird",
    "Boulder",
    "Bright Path",
    "Brookside",
    "Canyon",
    "Cedar Ridge",
    "Clearwater",
    "Copper",
    "Cornerstone",
    "Crescent",
    "Deer Creek",
    "Eastgate",
    "Evergreen",
    "Fairview",
    "Falcon",
    "Foxhill",
    "Golden Gate",
    "Granite",
    "Greenfield",
    "Harbor Point",
    "Harvest",
    "Highland",
    "Hilltop",
    "Ironwood",
    "Juniper",
    "Keystone",
    "Lakeshore",
    "Lantern",
    "Liberty",
    "Lighthouse",
    "Maple Leaf",
    "Meadowbrook",
    "Mesa",
    "Midtown",
    "Northstar",
    "Oak Valley",
    "Orchard",
    "Pacific",
    "Pinecrest",
    "Prairie",
    "Redwood",
    "Ridgeline",
    "Riverbend",
    "Rocky Mountain",
    "Sagebrush",
    "Silver Lake",
    "Summit",
    "Sunrise",
    "Tidewater",
    "Timberline",
    "Twin Oaks",
    "Union Square",
    "Westfield",
    "Willow Creek",
];

pub(crate) const COMPANY_SUFFIXES: &[&str] = &[
    "",
    "",
    "",
    " LLC",
    " Inc.",
    " Group",
    " Co.",
    " & Co.",
    " Partners",
    " Holdings",
];

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Aaliyah",
    "Aaron",
    "Abigail",
    "Adrian",
    "Aisha",
    "Alejandro",
    "Alex",
    "Alicia",
    "Amanda",
    "Amir",
    "Ana",
    "Andre",
    "Angela",
    "Ben",
    "Brandon",
    "Brianna",
    "Carlos",
    "Carmen",
    "Chloe",
    "Chris",
    "Dana",
    "Daniel",
    "Deepa",
    "Derek",
    "Diana",
    "Emily",
    "Eric",
    "Fatima",
    "Gabriel",
    "Grace",
    "Hannah",
    "Hector",
    "Imani",
    "Isaac",
    "Jamal",
    "Jasmine",
    "Jason",
    "Jenna",
    "Jorge",
    "Julia",
    "Kayla",
    "Kevin",
    "Keisha",
    "Laura",
    "Leah",
    "Liam",
    "Lucia",
    "Marcus",
    "Maria",
    "Megan",
    "Mei",
    "Michael",
    "Nadia",
    "Nathan",
    "Nicole",
    "Olivia",
    "Omar",
    "Priya",
    "Rachel",
    "Raj",
    "Rosa",
    "Ryan",
    "Samantha",
    "Sean",
    "Sofia",
    "Tanya",
    "Terrence",
    "Tyler",
    "Vanessa",
    "Wei",
    "Yusuf",
    "Zoe",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Adams",
    "Ahmed",
    "Alvarez",
    "Anderson",
    "Baker",
    "Bennett",
    "Brooks",
    "Campbell",
    "Carter",
    "Chen",
    "Clark",
    "Cohen",
    "Collins",
    "Cruz",
    "Davis",
    "Diaz",
    "Edwards",
    "Evans",
    "Fischer",
    "Flores",
    "Foster",
    "Garcia",
    "Gonzalez",
    "Green",
    "Gupta",
    "Hall",
    "Harris",
    "Hernandez",
    "Hill",
    "Hughes",
    "Jackson",
    "Jensen",
    "Johnson",
    "Kim",
    "King",
    "Kowalski",
    "Lee",
    "Lewis",
    "Lopez",
    "Martin",
    "Martinez",
    "Mitchell",
    "Moore",
    "Morgan",
    "Murphy",
    "Nguyen",
    "Nelson",
    "Okafor",
    "Ortiz",
    "Patel",
    "Perez",
    "Peterson",
    "Phillips",
    "Ramirez",
    "Reed",
    "Reyes",
    "Rivera",
    "Roberts",
    "Robinson",
    "Rodriguez",
    "Rossi",
    "Sanchez",
    "Schmidt",
    "Shah",
    "Singh",
    "Smith",
    "Sullivan",
    "Taylor",
    "Thomas",
    "Thompson",
    "Torres",
    "Tran",
    "Turner",
    "Walker",
    "Washington",
    "Williams",
    "Wilson",
    "Wong",
    "Wright",
    "Young",
];

/// A customer success manager and how much their accounts' relationships
/// gain (or lose) from having them (a latent, never written to the files).
pub(crate) struct Owner {
    pub(crate) name: String,
    pub(crate) quality: f64,
}

/// A platform incident that hits a share of all customers in the same week.
pub(crate) struct PlatformIncident {
    pub(crate) day: Day,
    pub(crate) topic: Topic,
    /// Share of accounts affected.
    pub(crate) reach: f64,
}

/// Everything shared by all accounts of one generated base.
pub(crate) struct World {
    pub(crate) seed: u64,
    /// First day of the observation window.
    pub(crate) window_start: Day,
    /// Last day of the window (inclusive).
    pub(crate) end: Day,
    /// Last second of `end`: nothing is dated after it.
    pub(crate) end_ts: Ts,
    /// Monday of the first simulated week (on or before `window_start`).
    pub(crate) first_monday: Day,
    pub(crate) weeks: usize,
    pub(crate) months: u32,
    pub(crate) owners: Vec<Owner>,
    pub(crate) incidents: Vec<PlatformIncident>,
    /// Digits in account ids.
    pub(crate) id_width: usize,
    /// See `SynthConfig::price_regime_from`.
    pub(crate) price_regime_from: Option<Day>,
}

/// Mixes a seed with a stream number (SplitMix64), so that neighbouring
/// accounts get unrelated generators.
pub(crate) fn mix(seed: u64, stream: u64) -> u64 {
    pulse_core::rng::mix(seed, stream)
}

impl World {
    pub(crate) fn new(cfg: &SynthConfig) -> World {
        let end = cfg.end;
        let window_start = if cfg.months == 0 {
            end
        } else {
            cal::add_months(end, -(cfg.months as i32)) + 1
        };
        let first_monday = cal::monday_of(window_start);
        let weeks = ((end - first_monday) / 7 + 1).max(0) as usize;
        let mut rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, u64::MAX));

        // About one CSM per 150 accounts, each with a different knack for
        // relationships. Names are unique: a shuffled walk over first x last.
        let n_owners = cfg.accounts.div_ceil(150).max(1);
        let mut combos: Vec<usize> = (0..FIRST_NAMES.len() * LAST_NAMES.len()).collect();
        combos.shuffle(&mut rng);
        let quality = Normal::new(0.0, 0.06).expect("valid normal");
        let owners = (0..n_owners)
            .map(|i| {
                let c = combos[i % combos.len()];
                let mut name = format!(
                    "{} {}",
                    FIRST_NAMES[c % FIRST_NAMES.len()],
                    LAST_NAMES[c / FIRST_NAMES.len()]
                );
                if i >= combos.len() {
                    name.push_str(&format!(" {}", i / combos.len() + 1));
                }
                Owner {
                    name,
                    quality: quality.sample(&mut rng),
                }
            })
            .collect();

        // Two or three platform incidents a year (a bank-file outage, a tax
        // table bug, an integration outage), each reaching part of the base.
        let mut incidents = Vec::new();
        let mut day = first_monday;
        loop {
            day += rng.gen_range(90..200);
            if day > end {
                break;
            }
            let topic = *[
                Topic::PayrollRun,
                Topic::DirectDeposit,
                Topic::TaxWithholding,
                Topic::Integrations,
                Topic::UserAccess,
            ]
            .choose(&mut rng)
            .expect("non-empty");
            incidents.push(PlatformIncident {
                day,
                topic,
                reach: rng.gen_range(0.10..0.35),
            });
        }

        World {
            seed: cfg.seed,
            window_start,
            end,
            end_ts: (end as i64 + 1) * SECONDS_PER_DAY - 1,
            first_monday,
            weeks,
            months: cfg.months,
            owners,
            incidents,
            id_width: cfg.accounts.to_string().len().max(6),
            price_regime_from: cfg.price_regime_from,
        }
    }
}
