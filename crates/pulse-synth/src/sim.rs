//! The per-account generator: draws an account's profile, simulates its
//! hidden state week by week through the window, and writes down what the
//! provider would observe (usage, interactions, surveys, contacts, billing
//! and operational events) together with the ground truth.
//!
//! One call of [`simulate`] depends only on the [`World`] and the account's
//! index (its generator is seeded from both), so accounts can be generated
//! on any thread in any order and the output stays the same. The model and
//! its coefficients are documented in the crate docs and in
//! `docs/synthetic-base.md`; the constants below are those coefficients.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Exp1, Poisson, StandardNormal};

use pulse_core::time::{Day, SECONDS_PER_DAY, Ts};
use pulse_core::{
    Account, AccountStatus, Channel, Contact, Interaction, OperationalEvent, Persona, Segment,
    Sentiment, SubscriptionEvent, SubscriptionKind, SurveyKind, SurveyResponse, Usage, op_kind,
};

use crate::cal;
use crate::text::{self, Ctx, Driver, Intent, Msg, Tone, Topic};
use crate::truth::{ChurnKind, TruthAccount, TruthWeek};
use crate::world::{
    COMPANY_SUFFIXES, FIRST_NAMES, INDUSTRIES, Industry, LAST_NAMES, PLACE_WORDS, PLANS, REGIONS,
    World, mix,
};

/// Everything generated for one account.
pub(crate) struct AccountOut {
    pub(crate) account: Account,
    pub(crate) contacts: Vec<Contact>,
    pub(crate) interactions: Vec<Interaction>,
    pub(crate) usage: Vec<Usage>,
    pub(crate) subscriptions: Vec<SubscriptionEvent>,
    pub(crate) surveys: Vec<SurveyResponse>,
    pub(crate) operational: Vec<OperationalEvent>,
    pub(crate) truth: TruthAccount,
    pub(crate) weeks: Vec<TruthWeek>,
}

// Segment-indexed coefficients: [smb, mid_market, enterprise].
const SEGMENT_SHARE: [f64; 2] = [0.65, 0.92];
const SEAT_MEDIAN: [f64; 3] = [18.0, 260.0, 2_500.0];
const SEAT_SIGMA: [f64; 3] = [0.7, 0.5, 0.6];
const SEAT_RANGE: [(f64, f64); 3] = [(3.0, 150.0), (80.0, 2_000.0), (900.0, 40_000.0)];
const PLAN_WEIGHTS: [[f64; 3]; 3] = [[0.55, 0.40, 0.05], [0.20, 0.55, 0.25], [0.05, 0.35, 0.60]];
/// Yearly rate of exogenous churn (acquisitions, closures), before the
/// industry multiplier.
const EXO_RATE: [f64; 3] = [0.025, 0.014, 0.008];
/// Renewal churn: intercept of the logit.
const RENEW_C0: [f64; 3] = [-4.55, -4.25, -4.9];
/// Renewal churn: weight of the latent score (recent average) in the logit.
const RENEW_SLOPE: f64 = 2.2;
/// Mid-term churn: most a very unhealthy account churns per week.
const MIDTERM_MAX: [f64; 3] = [0.008, 0.008, 0.004];
const EXPAND_BASE: [f64; 3] = [0.020, 0.030, 0.035];
const DOWNGRADE_BASE: [f64; 3] = [0.040, 0.040, 0.030];
const PAYMENT_FAIL: [f64; 3] = [0.012, 0.006, 0.003];
const PRICE_RISE_P: [f64; 3] = [0.30, 0.25, 0.15];
/// Seeds the side stream of draws (competitor evaluations).
const SIDE_STREAM: u64 = 0x6576_616c_7561_7465;
/// Competitor evaluations: how many start per account-year.
const EVALUATION_RATE: f64 = 0.2;
/// Weeks an evaluation lasts (uniform).
const EVALUATION_WEEKS: (i32, i32) = (8, 26);
/// An evaluation's pull towards leaving, in units of the latent score `x`.
const EVALUATION_PULL: f64 = 0.8;
/// How far an evaluation sours the words of those weighing it (mood units,
/// times [`evaluation_felt`]).
const EVALUATION_TONE: f64 = 0.45;
/// An evaluation's toll on an NPS answer (points, times [`evaluation_felt`]).
const EVALUATION_NPS: f64 = 2.0;
/// A downturn deeper than this (`u` below its negative) starts cutting costs:
/// head count, seats, plans, and paying late.
const DOWNTURN: f64 = 0.5;
/// Interactions per month for a typical account of the segment.
const CONTACT_RATE: [f64; 3] = [0.9, 2.0, 4.0];
/// Topic weights in an ordinary week, in `Topic::ALL` order.
const TOPIC_WEIGHTS: [f64; 12] = [16.0, 9.0, 8.0, 10.0, 9.0, 7.0, 8.0, 7.0, 3.0, 7.0, 8.0, 8.0];
/// Who writes about what: persona weights per topic, in the order admin,
/// champion, executive sponsor, billing, end user.
const PERSONA_BY_TOPIC: [[f64; 5]; 12] = [
    [6.0, 2.0, 0.3, 0.5, 1.0],
    [5.0, 2.0, 0.5, 1.0, 1.0],
    [3.0, 3.0, 0.2, 0.5, 3.0],
    [2.0, 2.0, 0.1, 0.0, 5.0],
    [4.0, 3.0, 0.1, 0.0, 2.0],
    [1.0, 0.5, 1.0, 6.0, 0.0],
    [4.0, 2.0, 0.3, 1.0, 0.5],
    [2.0, 1.0, 0.0, 0.5, 5.0],
    [3.0, 1.0, 0.2, 1.0, 4.0],
    [3.0, 1.0, 0.0, 0.0, 4.0],
    [3.0, 2.0, 0.3, 0.5, 3.0],
    [3.0, 2.0, 1.0, 2.0, 0.5],
];

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn money(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn day_ts(day: Day) -> Ts {
    day as i64 * SECONDS_PER_DAY
}

/// Relationship strength (1-4) on a continuous scale, from warmth (0-1).
fn strength_level(warmth: f64) -> f64 {
    0.6 + 4.0 * warmth
}

fn persona_index(p: Persona) -> usize {
    match p {
        Persona::Admin => 0,
        Persona::Champion => 1,
        Persona::ExecutiveSponsor => 2,
        Persona::Billing => 3,
        Persona::EndUser => 4,
    }
}

/// The account's fixed traits.
struct Profile {
    id: String,
    name: String,
    seg: usize,
    industry: &'static Industry,
    region: &'static str,
    states: Vec<&'static str>,
    owner: usize,
    start: Day,
    cadence: &'static str,
    benefits: bool,
    oe_month: u32,
    /// Long-run adoption the account tends to (raised by training).
    a_base: f64,
    /// Long-run support experience (harder for multi-state accounts).
    s_base: f64,
    /// Long-run relationship warmth (the CSM's knack included).
    rel_base: f64,
    price_sens: f64,
    /// Yearly head-count growth of the customer's business.
    growth: f64,
    onboarding: Option<Onboarding>,
    /// Staggers the account's monthly and quarterly routines.
    phase: usize,
    /// Pre-drawn exogenous churn: day and reason.
    doomed: Option<(Day, &'static str)>,
}

#[derive(Clone, Copy)]
struct Onboarding {
    done: Day,
    bad: bool,
    training: Option<Day>,
}

struct Person {
    id: String,
    name: String,
    first: &'static str,
    persona: Persona,
    warmth: f64,
    /// How much sunnier or grumpier than the account this person is.
    offset: f64,
    active: bool,
    strength: i64,
    sentiment: Sentiment,
}

/// What an interaction is, before it is written.
struct Spec {
    day: Day,
    topic: Topic,
    intent: Intent,
    bias: f64,
    thread: u64,
    ordinal: u32,
    contact: Option<usize>,
    channel: Option<Channel>,
    escalate: f64,
    contacts_to_resolve: i64,
    reopened: bool,
}

struct Sim<'w> {
    w: &'w World,
    rng: ChaCha8Rng,
    p: Profile,
    // Commercial state.
    plan: usize,
    seats: i64,
    headcount: f64,
    discount: f64,
    price_mult: f64,
    mrr: f64,
    // Latent state.
    a: f64,
    s: f64,
    r: f64,
    shock: f64,
    u: f64,
    x: f64,
    x_ema: f64,
    health: f64,
    mood: f64,
    people: Vec<Person>,
    had_champion: bool,
    champion_left_day: Option<Day>,
    admin_gap_until: Option<Day>,
    // Schedules.
    anniv_k: i32,
    next_anniv: Day,
    notice_done: bool,
    pending_rise: f64,
    oe_until: Day,
    /// A competitor's evaluation runs until this day.
    evaluating_until: Option<Day>,
    /// Draws of the competitor evaluations, apart from the main stream so
    /// that adding them moved no other draw.
    side: ChaCha8Rng,
    // Output.
    contacts: Vec<Contact>,
    interactions: Vec<Interaction>,
    usage: Vec<Usage>,
    subs: Vec<SubscriptionEvent>,
    surveys: Vec<SurveyResponse>,
    ops: Vec<OperationalEvent>,
    weeks: Vec<TruthWeek>,
    /// (interaction, survey) pairs of CSAT answers, to keep them consistent
    /// when the window or a churn cuts them off.
    csat_links: Vec<(usize, usize)>,
    events: Vec<&'static str>,
    truth: TruthAccount,
    health_sum: f64,
    health_n: u32,
}

/// Generates account number `idx` (0-based) of the world.
pub(crate) fn simulate(w: &World, idx: usize) -> AccountOut {
    let mut sim = Sim::new(w, idx);
    sim.run();
    sim.finish()
}

impl<'w> Sim<'w> {
    fn normal(&mut self) -> f64 {
        self.rng.sample(StandardNormal)
    }

    fn new(w: &'w World, idx: usize) -> Sim<'w> {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(w.seed, idx as u64));
        let id = format!("acct-{:0width$}", idx + 1, width = w.id_width);
        let draw = rng.r#gen::<f64>();
        let seg = if draw < SEGMENT_SHARE[0] {
            0
        } else if draw < SEGMENT_SHARE[1] {
            1
        } else {
            2
        };
        let total: f64 = INDUSTRIES.iter().map(|i| i.weight).sum();
        let mut t = rng.gen_range(0.0..total);
        let industry = INDUSTRIES
            .iter()
            .find(|i| {
                t -= i.weight;
                t < 0.0
            })
            .unwrap_or(&INDUSTRIES[0]);
        let region = &REGIONS[rng.gen_range(0..REGIONS.len())];
        let n_states = match seg {
            0 if rng.gen_bool(0.8) => 1,
            0 => rng.gen_range(2..=3),
            1 => rng.gen_range(1..=5),
            _ => rng.gen_range(3..=12),
        };
        let mut states = vec![region.states[rng.gen_range(0..region.states.len())]];
        while states.len() < n_states {
            let r = if rng.gen_bool(0.6) {
                region
            } else {
                &REGIONS[rng.gen_range(0..REGIONS.len())]
            };
            let s = r.states[rng.gen_range(0..r.states.len())];
            if !states.contains(&s) {
                states.push(s);
            }
        }
        let z: f64 = rng.sample(StandardNormal);
        let (lo, hi) = SEAT_RANGE[seg];
        let headcount = (SEAT_MEDIAN[seg] * (SEAT_SIGMA[seg] * z).exp()).clamp(lo, hi);
        let pw = PLAN_WEIGHTS[seg];
        let d = rng.r#gen::<f64>();
        let plan = if d < pw[0] {
            0
        } else if d < pw[0] + pw[1] {
            1
        } else {
            2
        };
        let discount = match seg {
            0 if rng.gen_bool(0.8) => 0.0,
            0 => rng.gen_range(0.05..0.10),
            1 => rng.gen_range(0.0..0.15),
            _ => rng.gen_range(0.10..0.30),
        };
        let name = format!(
            "{} {}{}",
            PLACE_WORDS[rng.gen_range(0..PLACE_WORDS.len())],
            industry.words[rng.gen_range(0..industry.words.len())],
            COMPANY_SUFFIXES[rng.gen_range(0..COMPANY_SUFFIXES.len())]
        );
        let owner = rng.gen_range(0..w.owners.len());
        let phase = rng.gen_range(0..52);

        // Many customers joined years ago; some join inside the window.
        let window_len = (w.end - w.window_start + 1).max(1);
        let p_new = (f64::from(w.months) * 0.01).min(0.45);
        let start = if window_len > 21 && rng.gen_bool(p_new) {
            w.window_start + rng.gen_range(0..window_len - 14)
        } else {
            let e: f64 = rng.sample(Exp1);
            w.window_start - 14 - (e * 900.0).min(4_000.0) as Day
        };
        let cadence = match rng.gen_range(0..10) {
            0..=4 => "biweekly",
            5 | 6 => "semi-monthly",
            7 | 8 => "weekly",
            _ => "monthly",
        };
        let benefits = rng.gen_bool(if plan >= 1 { 0.85 } else { 0.45 });
        let oe_month = match rng.gen_range(0..20) {
            0..=14 => 11,
            15 | 16 => 5,
            _ => 9,
        };
        let n1: f64 = rng.sample(StandardNormal);
        let n2: f64 = rng.sample(StandardNormal);
        let n3: f64 = rng.sample(StandardNormal);
        let n4: f64 = rng.sample(StandardNormal);
        let a_base = (0.60 + 0.03 * plan as f64 + 0.12 * n1).clamp(0.2, 0.92);
        let s_base = (0.68 + 0.08 * n2 - 0.015 * (n_states - 1).min(6) as f64).clamp(0.35, 0.92);
        let rel_base = (0.58 + 0.10 * n3 + w.owners[owner].quality).clamp(0.2, 0.9);
        let price_sens = rng.gen_range(0.6..1.4) * [1.2, 1.0, 0.8][seg];
        let growth = 0.04 + 0.12 * n4;

        let onboarding = if start + 200 > w.window_start {
            let bad = rng.gen_bool(0.3);
            let len = if bad {
                rng.gen_range(70..160)
            } else {
                rng.gen_range(25..60)
            };
            let training = if rng.gen_bool(if bad { 0.2 } else { 0.6 }) {
                Some(start + len + rng.gen_range(7..30))
            } else {
                None
            };
            Some(Onboarding {
                done: start + len,
                bad,
                training,
            })
        } else {
            None
        };
        let from = start.max(w.window_start);
        let e: f64 = rng.sample(Exp1);
        let exo_day = from + (e / (EXO_RATE[seg] * industry.exo) * 365.25) as Day;
        let doomed = (exo_day <= w.end).then(|| {
            let closing = rng.gen_bool(if seg == 0 { 0.65 } else { 0.45 });
            (
                exo_day,
                if closing {
                    "out_of_business"
                } else {
                    "acquired"
                },
            )
        });

        let mut anniv_k = 1;
        while cal::anniversary(start, anniv_k) < w.window_start {
            anniv_k += 1;
        }
        let truth = TruthAccount {
            account_id: id.clone(),
            segment: [Segment::Smb, Segment::MidMarket, Segment::Enterprise][seg],
            start_date: start,
            owner: w.owners[owner].name.clone(),
            bad_onboarding: onboarding.is_some_and(|o| o.bad),
            mean_health: 0.0,
            final_health: 0.0,
            churned: false,
            churn_day: None,
            churn_kind: None,
            churn_reason: String::new(),
            expanded: false,
            expansion_day: None,
            contracted: false,
            champion_left: 0,
            price_increases: 0,
            incidents: 0,
        };
        let mut sim = Sim {
            w,
            rng,
            p: Profile {
                id,
                name,
                seg,
                industry,
                region: region.name,
                states,
                owner,
                start,
                cadence,
                benefits,
                oe_month,
                a_base,
                s_base,
                rel_base,
                price_sens,
                growth,
                onboarding,
                phase,
                doomed,
            },
            plan,
            seats: headcount.round() as i64,
            headcount,
            discount,
            price_mult: 1.0,
            mrr: 0.0,
            a: 0.0,
            s: 0.0,
            r: 0.0,
            shock: 0.0,
            u: 0.0,
            x: 0.0,
            x_ema: 0.0,
            health: 0.0,
            mood: 0.0,
            people: Vec::new(),
            had_champion: false,
            champion_left_day: None,
            admin_gap_until: None,
            anniv_k,
            next_anniv: cal::anniversary(start, anniv_k),
            notice_done: false,
            pending_rise: 0.0,
            oe_until: Day::MIN,
            evaluating_until: None,
            side: ChaCha8Rng::seed_from_u64(mix(w.seed ^ SIDE_STREAM, idx as u64)),
            contacts: Vec::new(),
            interactions: Vec::new(),
            usage: Vec::new(),
            subs: Vec::new(),
            surveys: Vec::new(),
            ops: Vec::new(),
            weeks: Vec::new(),
            csat_links: Vec::new(),
            events: Vec::new(),
            truth,
            health_sum: 0.0,
            health_n: 0,
        };
        sim.mrr = sim.price();
        sim.u = sim.normal();
        sim.a = (a_base * sim.onboarding_factor(from) + 0.06 * sim.normal()).clamp(0.05, 0.95);
        sim.s = (s_base + 0.05 * sim.normal()).clamp(0.1, 0.95);
        sim
    }

    /// 1 while a competitor's evaluation runs, else 0.
    fn evaluating(&self) -> f64 {
        if self.evaluating_until.is_some() {
            1.0
        } else {
            0.0
        }
    }

    /// How deep the business is in a downturn past [`DOWNTURN`] (0 above it).
    fn downturn(&self) -> f64 {
        (-self.u - DOWNTURN).max(0.0)
    }

    /// Monthly price of the current plan and seats.
    fn price(&self) -> f64 {
        let plan = PLANS[self.plan];
        money(
            (plan.base_fee + plan.pepm * self.seats as f64)
                * (1.0 - self.discount)
                * self.price_mult,
        )
    }

    /// How far along onboarding is on `day` (1 once it is well behind).
    fn onboarding_factor(&self, day: Day) -> f64 {
        match self.p.onboarding {
            Some(o) if day < o.done => {
                let span = (o.done - self.p.start).max(1) as f64;
                let ramp = 0.35 + 0.65 * ((day - self.p.start) as f64 / span).clamp(0.0, 1.0);
                if o.bad { ramp * 0.75 } else { ramp }
            }
            Some(o) if o.bad && day < o.done + 180 => 0.85,
            _ => 1.0,
        }
    }

    // -----------------------------------------------------------------------
    // People.

    fn add_person(&mut self, persona: Persona, day: Day, warmth: f64) -> usize {
        let first = FIRST_NAMES[self.rng.gen_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[self.rng.gen_range(0..LAST_NAMES.len())];
        let offset = 0.25 * self.normal();
        let warmth = warmth.clamp(0.05, 0.98);
        let strength = strength_level(warmth).round().clamp(1.0, 4.0) as i64;
        let mut person = Person {
            id: format!("{}-c{:02}", self.p.id, self.people.len() + 1),
            name: format!("{first} {last}"),
            first,
            persona,
            warmth,
            offset,
            active: true,
            strength,
            sentiment: Sentiment::Neutral,
        };
        person.sentiment = self.sentiment_of(&person, None);
        if persona == Persona::Champion {
            self.had_champion = true;
        }
        let secs = self.rng.gen_range(13 * 3600..22 * 3600);
        self.contacts.push(Contact {
            deleted_at: None,
            id: person.id.clone(),
            account_id: self.p.id.clone(),
            name: person.name.clone(),
            persona,
            relationship_strength: person.strength,
            sentiment: person.sentiment,
            active: true,
            observed_at: day_ts(day) + secs,
        });
        self.people.push(person);
        self.people.len() - 1
    }

    fn initial_people(&mut self, day: Day) {
        let seg = self.p.seg;
        let (admins, billing, champion, exec, users) = match seg {
            0 => (1, 0.4, 0.5, 0.2, self.rng.gen_range(1..=2)),
            1 => (
                self.rng.gen_range(1..=2),
                0.8,
                0.85,
                0.55,
                self.rng.gen_range(2..=4),
            ),
            _ => (
                self.rng.gen_range(2..=3),
                1.0,
                0.95,
                0.8,
                self.rng.gen_range(3..=6),
            ),
        };
        let mut list = vec![Persona::Admin; admins];
        for (p, prob) in [
            (Persona::Champion, champion),
            (Persona::ExecutiveSponsor, exec),
            (Persona::Billing, billing),
        ] {
            if self.rng.gen_bool(prob) {
                list.push(p);
            }
        }
        list.extend(std::iter::repeat_n(Persona::EndUser, users));
        for persona in list {
            let warmth = self.p.rel_base + 0.12 * self.normal();
            let back = self.rng.gen_range(0..3).min(day - self.p.start).max(0);
            self.add_person(persona, day - back, warmth);
        }
    }

    fn active(&self, persona: Persona) -> Option<usize> {
        self.people
            .iter()
            .position(|c| c.active && c.persona == persona)
    }

    fn relationship(&self) -> f64 {
        let mean = |persona: Persona, missing: f64| -> f64 {
            let (sum, n) = self
                .people
                .iter()
                .filter(|c| c.active && c.persona == persona)
                .fold((0.0, 0), |(s, n), c| (s + c.warmth, n + 1));
            if n == 0 { missing } else { sum / n as f64 }
        };
        0.40 * mean(Persona::Champion, 0.2)
            + 0.25 * mean(Persona::ExecutiveSponsor, 0.3)
            + 0.20 * mean(Persona::Admin, 0.3)
            + 0.15 * mean(Persona::Billing, self.p.rel_base)
    }

    fn sentiment_of(&self, c: &Person, current: Option<Sentiment>) -> Sentiment {
        let adj = match c.persona {
            Persona::Billing => -0.6 * self.shock,
            Persona::Admin => 0.8 * (self.s - 0.65),
            Persona::ExecutiveSponsor => 0.5 * (self.health / 100.0 - 0.62),
            Persona::EndUser => 0.5 * (self.a - 0.6),
            Persona::Champion => 0.3 * (c.warmth - 0.55),
        };
        let m = self.mood + 0.6 * c.offset + adj - 0.5 * price_felt(c.persona) * self.shock;
        // Hysteresis: leaving the current level takes a clear move.
        let (neg, pos) = match current {
            Some(Sentiment::Negative) => (-0.22, 0.36),
            Some(Sentiment::Positive) => (-0.34, 0.24),
            _ => (-0.28, 0.30),
        };
        if m < neg {
            Sentiment::Negative
        } else if m > pos {
            Sentiment::Positive
        } else {
            Sentiment::Neutral
        }
    }

    /// Re-observes every active contact; a changed strength or sentiment is
    /// a new row with the same id.
    fn review_people(&mut self, day: Day) {
        for i in 0..self.people.len() {
            let c = &self.people[i];
            if !c.active {
                continue;
            }
            let cont = strength_level(c.warmth);
            let strength = if (cont - c.strength as f64).abs() >= 0.7 {
                cont.round().clamp(1.0, 4.0) as i64
            } else {
                c.strength
            };
            let sentiment = self.sentiment_of(c, Some(c.sentiment));
            if strength != c.strength || sentiment != c.sentiment {
                self.people[i].strength = strength;
                self.people[i].sentiment = sentiment;
                self.observe(i, day);
            }
        }
    }

    fn observe(&mut self, i: usize, day: Day) {
        let secs = self.rng.gen_range(13 * 3600..22 * 3600);
        let c = &self.people[i];
        self.contacts.push(Contact {
            deleted_at: None,
            id: c.id.clone(),
            account_id: self.p.id.clone(),
            name: c.name.clone(),
            persona: c.persona,
            relationship_strength: c.strength,
            sentiment: c.sentiment,
            active: c.active,
            observed_at: day_ts(day) + secs,
        });
    }

    fn leave(&mut self, i: usize, day: Day) {
        self.people[i].active = false;
        self.observe(i, day);
    }

    // -----------------------------------------------------------------------
    // Records.

    fn op(&mut self, kind: &'static str, day: Day, detail: String) {
        let secs = self.rng.gen_range(12 * 3600..23 * 3600);
        self.ops.push(OperationalEvent {
            deleted_at: None,
            id: String::new(),
            account_id: self.p.id.clone(),
            kind: kind.to_string(),
            occurred_at: day_ts(day) + secs,
            detail,
        });
    }

    fn sub(
        &mut self,
        kind: SubscriptionKind,
        at: Ts,
        mrr_before: f64,
        seats_before: i64,
        reason: &str,
    ) {
        let (mrr_after, seats_after) = match kind {
            SubscriptionKind::Churn => (0.0, 0),
            _ => (self.mrr, self.seats),
        };
        self.subs.push(SubscriptionEvent {
            deleted_at: None,
            id: String::new(),
            account_id: self.p.id.clone(),
            kind,
            occurred_at: at,
            mrr_before,
            mrr_after,
            seats_before: (kind != SubscriptionKind::Start).then_some(seats_before),
            seats_after: Some(seats_after),
            plan: PLANS[self.plan].name.to_string(),
            reason: reason.to_string(),
        });
    }

    fn work_day(&mut self, from: Day, last: Day) -> Day {
        let mut d = self.rng.gen_range(from..=last);
        if cal::weekday(d) >= 5 && self.rng.gen_bool(0.75) {
            d = self.rng.gen_range(from..=last);
        }
        d
    }

    fn pick_topic(&mut self, day: Day) -> Topic {
        let (_, month, _) = cal::civil(day);
        let mut w = TOPIC_WEIGHTS;
        let t = |topic: Topic| topic as usize;
        if day <= self.oe_until {
            w[t(Topic::Benefits)] *= 5.0;
        }
        if !self.p.benefits {
            w[t(Topic::Benefits)] *= 0.2;
        }
        match month {
            1 => w[t(Topic::YearEnd)] *= 6.0,
            2 => w[t(Topic::YearEnd)] *= 2.0,
            _ => {}
        }
        if self.onboarding_factor(day) < 1.0 {
            w[t(Topic::NewHire)] *= 2.0;
            w[t(Topic::Integrations)] *= 2.0;
            w[t(Topic::UserAccess)] *= 1.5;
        }
        if matches!(self.p.industry.code, "hospitality" | "retail") {
            w[t(Topic::NewHire)] *= 1.5;
            w[t(Topic::TimeTracking)] *= 1.5;
        }
        w[t(Topic::Invoice)] *= 1.0 + 3.0 * self.shock.min(1.5);
        let total: f64 = w.iter().sum();
        let mut x = self.rng.gen_range(0.0..total);
        for (i, wi) in w.iter().enumerate() {
            x -= wi;
            if x < 0.0 {
                return Topic::ALL[i];
            }
        }
        Topic::PayrollRun
    }

    fn pick_contact(&mut self, topic: Topic, exec_boost: f64) -> Option<usize> {
        let weights = PERSONA_BY_TOPIC[topic as usize];
        let mut total = 0.0;
        for c in self.people.iter().filter(|c| c.active) {
            let mut wt = weights[persona_index(c.persona)];
            if c.persona == Persona::ExecutiveSponsor {
                wt *= exec_boost;
            }
            total += wt;
        }
        if total <= 0.0 {
            return self.people.iter().position(|c| c.active);
        }
        let mut x = self.rng.gen_range(0.0..total);
        for (i, c) in self.people.iter().enumerate() {
            if !c.active {
                continue;
            }
            let mut wt = weights[persona_index(c.persona)];
            if c.persona == Persona::ExecutiveSponsor {
                wt *= exec_boost;
            }
            x -= wt;
            if x < 0.0 {
                return Some(i);
            }
        }
        self.people.iter().position(|c| c.active)
    }

    /// The tone of a message given the account's mood and the writer (a
    /// price rise sours only the words of those who pay: [`price_felt`]; a
    /// competitor's evaluation those who weigh it: [`evaluation_felt`]).
    fn tone(&mut self, bias: f64, intent: Intent, offset: f64, persona: Persona) -> (Tone, bool) {
        let m = self.mood + 0.5 * offset + bias
            - 0.5 * price_felt(persona) * self.shock
            - EVALUATION_TONE * evaluation_felt(persona) * self.evaluating()
            + 0.35 * self.normal();
        let (neg, pos) = match intent {
            Intent::Question => (-0.55, 0.6),
            Intent::Praise => (f64::NEG_INFINITY, f64::NEG_INFINITY),
            _ => (-0.3, 0.42),
        };
        if m < neg {
            (Tone::Negative, m < neg - 0.4)
        } else if m > pos {
            (Tone::Positive, m > pos + 0.45)
        } else {
            (Tone::Neutral, false)
        }
    }

    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    fn interaction(&mut self, spec: Spec) -> usize {
        let offset = spec.contact.map_or(0.0, |c| self.people[c].offset);
        let persona = spec
            .contact
            .map_or(Persona::Admin, |c| self.people[c].persona);
        let (tone, strong) = self.tone(spec.bias, spec.intent, offset, persona);
        let channel = spec.channel.unwrap_or_else(|| {
            let x = self.rng.r#gen::<f64>();
            let chatty = if persona == Persona::EndUser {
                0.15
            } else {
                0.0
            };
            let calls =
                if persona == Persona::ExecutiveSponsor || (tone == Tone::Negative && strong) {
                    0.15
                } else {
                    0.0
                };
            if x < 0.10 + calls {
                Channel::Call
            } else if x < 0.38 + calls + chatty {
                Channel::Chat
            } else if x < 0.58 + calls + chatty {
                Channel::Email
            } else {
                Channel::Ticket
            }
        });
        let secs = self.rng.gen_range(12 * 3600..23 * 3600);
        let opened = day_ts(spec.day) + secs;
        let bad = 1.0 - self.s;
        let escalated = self.rng.gen_bool(spec.escalate.clamp(0.0, 1.0));
        let ctr = spec.contacts_to_resolve;
        let problem = matches!(spec.intent, Intent::Problem | Intent::FollowUp);
        let (frt, resolve) = match channel {
            Channel::Chat => {
                let f = self.lognormal(60.0 * (1.0 + 3.0 * bad), 0.7);
                (f, f + self.lognormal(900.0, 0.6))
            }
            Channel::Call => (0.0, self.lognormal(1_200.0, 0.5)),
            Channel::Ticket | Channel::Email => {
                let f = self.lognormal(9_000.0 * (0.4 + 2.2 * bad), 0.9);
                let slow = if problem { 1.6 } else { 1.0 };
                (
                    f,
                    f + self.lognormal(64_800.0 * (0.4 + 2.5 * bad) * slow, 1.0),
                )
            }
        };
        let mut resolve = resolve * (1.0 + 0.8 * (ctr - 1) as f64);
        if escalated {
            resolve *= 1.5 + self.rng.r#gen::<f64>();
        }
        let still_open = self.rng.gen_bool(0.02 + 0.03 * bad);
        let first_response_at = Some(opened + frt as i64);
        let resolved_at = (!still_open).then_some(opened + resolve as i64);

        let thread = spec.thread;
        let (first, company) = (
            spec.contact.map_or("Jordan", |c| self.people[c].first),
            self.p.name.as_str(),
        );
        let ctx = Ctx {
            company,
            states: &self.p.states,
            cadence: self.p.cadence,
            n_emp: self.seats,
            noun: self.p.industry.noun,
        };
        let msg = Msg {
            topic: spec.topic,
            tone,
            strong,
            intent: spec.intent,
            channel,
            persona,
            ordinal: spec.ordinal,
            thread,
            ctx: &ctx,
            first,
            day: spec.day,
        };
        let mut subject = String::with_capacity(48);
        text::write_subject(&msg, &mut self.rng, &mut subject);
        let mut body = String::with_capacity(320);
        text::write_body(&msg, &mut self.rng, &mut body);

        // A CSAT answer after some resolutions.
        let mut csat = None;
        if let Some(done) = resolved_at
            && self.rng.gen_bool(0.28)
        {
            let tone_pen = match tone {
                Tone::Negative => -0.5,
                Tone::Neutral => 0.0,
                Tone::Positive => 0.4,
            };
            let q = 4.3 + 3.0 * (self.s - 0.65) + 0.9 * self.mood + tone_pen
                - 0.45 * (ctr - 1) as f64
                - 0.6 * f64::from(u8::from(escalated))
                + 0.75 * self.rng.sample::<f64, _>(StandardNormal);
            let score = q.round().clamp(1.0, 5.0) as i64;
            csat = Some(score);
            let delay = 7_200.0 * (self.rng.sample::<f64, _>(StandardNormal)).exp();
            let at = done + delay as i64;
            let mut comment = String::new();
            if self.rng.gen_bool(0.55) {
                text::write_csat_comment(&msg, score, &mut self.rng, &mut comment);
            }
            self.csat_links
                .push((self.interactions.len(), self.surveys.len()));
            self.surveys.push(SurveyResponse {
                deleted_at: None,
                id: String::new(),
                account_id: self.p.id.clone(),
                contact_id: spec.contact.map(|c| self.people[c].id.clone()),
                kind: SurveyKind::Csat,
                score,
                comment,
                responded_at: at,
            });
        }
        self.interactions.push(Interaction {
            deleted_at: None,
            id: String::new(),
            account_id: self.p.id.clone(),
            contact_id: spec.contact.map(|c| self.people[c].id.clone()),
            channel,
            topic: spec.topic.code().to_string(),
            opened_at: opened,
            first_response_at,
            resolved_at,
            escalated,
            reopened: spec.reopened,
            contacts_to_resolve: ctr,
            csat,
            subject,
            body,
        });
        self.interactions.len() - 1
    }

    /// An issue that takes `n` contacts: the first message and its follow-ups
    /// a few days apart, all about the same thing.
    #[allow(clippy::too_many_arguments)]
    fn thread(
        &mut self,
        day: Day,
        topic: Topic,
        intent: Intent,
        bias: f64,
        n: u32,
        escalate: f64,
        contact: Option<usize>,
    ) {
        let thread = self.rng.r#gen::<u64>();
        // Some earlier contacts were closed and reopened; others simply
        // went unanswered until the customer wrote again.
        let mut reopen = [false; 5];
        for r in reopen.iter_mut().take(n.saturating_sub(1) as usize) {
            *r = self.rng.gen_bool(0.4);
        }
        let mut d = day;
        for i in 1..=n {
            let exec_call = i >= 3 && self.rng.gen_bool(0.35);
            let who = if i >= 3 && self.rng.gen_bool(0.25) {
                self.pick_contact(topic, 6.0).or(contact)
            } else {
                contact
            };
            self.interaction(Spec {
                day: d,
                topic,
                intent: if i == 1 { intent } else { Intent::FollowUp },
                bias: bias - 0.2 * (i - 1) as f64,
                thread,
                ordinal: i,
                contact: who,
                channel: exec_call.then_some(Channel::Call),
                escalate: if i >= 2 { escalate } else { escalate * 0.4 },
                contacts_to_resolve: i as i64,
                reopened: reopen[i as usize - 1],
            });
            d += self.rng.gen_range(1..=4);
        }
    }

    fn thread_len(&mut self, stop: f64) -> u32 {
        let mut n = 1;
        while n < 5 && !self.rng.gen_bool(stop.clamp(0.05, 0.95)) {
            n += 1;
        }
        n
    }

    // -----------------------------------------------------------------------
    // The weekly loop.

    fn run(&mut self) {
        let w = self.w;
        let mut started = false;
        for k in 0..w.weeks {
            let mon = w.first_monday + 7 * k as Day;
            let sun = mon + 6;
            if sun < self.p.start {
                continue;
            }
            let from = mon.max(self.p.start).max(w.window_start);
            let to = sun.min(w.end);
            if from > to {
                continue;
            }
            self.events.clear();
            if !started {
                started = true;
                self.begin(from);
            }
            let churn = self.week(k, mon, from, to);
            if let Some((day, kind, reason)) = churn {
                self.churn(day, kind, reason);
                break;
            }
        }
    }

    /// The account's first week in the window.
    fn begin(&mut self, from: Day) {
        let w = self.w;
        let start = self.p.start;
        if start >= w.window_start {
            self.initial_people(start);
            let at = day_ts(start) + 9 * 3600;
            self.sub(SubscriptionKind::Start, at, 0.0, 0, "");
            let detail = format!(
                "Implementation kickoff for {} employees in {}",
                self.seats,
                self.p.states.join(", ")
            );
            self.op(op_kind::ONBOARDING_STARTED, start, detail);
            self.events.push("onboarding_started");
            if self.p.onboarding.is_some_and(|o| o.bad) {
                self.events.push("bad_onboarding");
            }
        } else {
            let back = self.rng.gen_range(0..60);
            self.initial_people((from - back).max(start));
        }
        self.r = self.relationship();
        self.update_health();
        self.x_ema = self.x;
    }

    fn update_health(&mut self) {
        self.x = 0.55 + 3.0 * (self.a - 0.6) + 3.5 * (self.s - 0.65) + 3.0 * (self.r - 0.55)
            - 1.2 * self.shock
            + 0.35 * self.u;
        self.health = 100.0 * sigmoid(self.x);
        self.mood = 0.1 + 1.4 * (self.s - 0.65) + 0.8 * (self.r - 0.55) + 0.8 * (self.a - 0.6);
    }

    /// One week: events, latent drift, churn decisions, then what the
    /// provider observes. Returns the churn, if the account churns.
    fn week(
        &mut self,
        k: usize,
        mon: Day,
        from: Day,
        to: Day,
    ) -> Option<(Day, ChurnKind, &'static str)> {
        let w = self.w;
        let frac = f64::from((to - from + 1) as u32) / 7.0;
        let yr = frac / 52.0;
        let idx_off = self.p.phase;
        let (_, month, dom) = cal::civil(mon);
        let mut threads: Vec<(Day, Topic, f64, f64)> = Vec::new();

        // Onboarding milestones.
        if let Some(o) = self.p.onboarding {
            if (from..=to).contains(&o.done) {
                let detail = if o.bad {
                    "Go-live after a delayed implementation; data migration needed rework"
                } else {
                    "Go-live: first payroll run completed in the platform"
                };
                self.op(op_kind::ONBOARDING_COMPLETED, o.done, detail.to_string());
                self.events.push("onboarding_completed");
            }
            if let Some(t) = o.training
                && (from..=to).contains(&t)
            {
                self.training(t);
            }
        }

        // Service incidents.
        let missed = 0.20 * (1.0 + 1.2 * (1.0 - self.a)) * [1.3, 1.0, 0.8][self.p.seg];
        if self.rng.gen_bool((missed * yr).min(1.0)) {
            let day = self.rng.gen_range(from..=to);
            let n = 2 + self.rng.gen_range(0..self.seats.clamp(2, 60));
            let mut detail = String::from("Payroll for the ");
            cal::push_spoken(&mut detail, day);
            detail.push_str(&format!(
                " pay date was submitted after the ACH cutoff; {n} employees were paid late"
            ));
            self.op(op_kind::MISSED_PAYROLL_DEADLINE, day, detail);
            self.incident(0.10, 0.20, &[Persona::Admin, Persona::Champion]);
            self.events.push("missed_payroll_deadline");
            threads.push((day, Topic::PayrollRun, -0.55, 0.35));
        }
        let n_states = self.p.states.len() as f64;
        let tax = 0.10 * (1.0 + 0.25 * (n_states - 1.0)).min(3.5);
        if self.rng.gen_bool((tax * yr).min(1.0)) {
            let day = self.rng.gen_range(from..=to);
            let st = self.p.states[self.rng.gen_range(0..self.p.states.len())];
            let n = 1 + self.rng.gen_range(0..self.seats.clamp(1, 25));
            let detail = format!(
                "{st} income tax withheld under the wrong state for {n} employees; amended filing required"
            );
            self.op(op_kind::TAX_FILING_ERROR, day, detail);
            self.incident(0.10, 0.20, &[Persona::Admin, Persona::ExecutiveSponsor]);
            self.events.push("tax_filing_error");
            threads.push((day, Topic::TaxWithholding, -0.5, 0.4));
        }
        for inc in &w.incidents {
            if (from..=to).contains(&inc.day) && self.rng.gen_bool(inc.reach) {
                self.incident(0.04, 0.10, &[Persona::Admin]);
                self.events.push("platform_incident");
                threads.push((inc.day, inc.topic, -0.35, 0.2));
            }
        }

        // People come and go.
        if let Some(i) = self.active(Persona::Champion)
            && self.rng.gen_bool((0.15 * yr).min(1.0))
        {
            let day = self.rng.gen_range(from..=to);
            self.leave(i, day);
            self.champion_left_day = Some(day);
            self.truth.champion_left += 1;
            self.events.push("champion_left");
        } else if self.active(Persona::Champion).is_none()
            && (self.p.seg > 0 || self.had_champion)
            && self.rng.gen_bool(frac / 16.0)
        {
            let day = self.rng.gen_range(from..=to);
            self.add_person(Persona::Champion, day, 0.42);
            self.events.push("new_champion");
        }
        if let Some(i) = self.active(Persona::ExecutiveSponsor)
            && self.rng.gen_bool((0.08 * yr).min(1.0))
        {
            let day = self.rng.gen_range(from..=to);
            self.leave(i, day);
            self.events.push("sponsor_left");
        } else if self.active(Persona::ExecutiveSponsor).is_none()
            && self.p.seg > 0
            && self.rng.gen_bool(frac / 30.0)
        {
            let day = self.rng.gen_range(from..=to);
            self.add_person(Persona::ExecutiveSponsor, day, 0.45);
            self.events.push("new_sponsor");
        }
        if let Some(i) = self.active(Persona::Admin)
            && self.admin_gap_until.is_none()
            && self.rng.gen_bool((0.08 * yr).min(1.0))
        {
            let day = self.rng.gen_range(from..=to);
            self.leave(i, day);
            self.admin_gap_until = Some(day + self.rng.gen_range(5..30));
            self.events.push("admin_left");
        }
        if let Some(until) = self.admin_gap_until
            && until <= to
        {
            self.admin_gap_until = None;
            let day = until.max(from);
            self.add_person(Persona::Admin, day, 0.45);
            self.events.push("new_admin");
        }

        // A competitor's evaluation: for weeks the customer weighs leaving.
        // It shows in what those who weigh it write and answer in surveys,
        // not in the health of the relationship the provider tracks.
        if self.evaluating_until.is_some_and(|d| d < from) {
            self.evaluating_until = None;
        }
        if self.evaluating_until.is_none() && self.side.gen_bool((EVALUATION_RATE * yr).min(1.0)) {
            let weeks = self.side.gen_range(EVALUATION_WEEKS.0..=EVALUATION_WEEKS.1);
            self.evaluating_until = Some(from + 7 * weeks);
            self.events.push("competitor_evaluation");
        }

        // Good support and training lift the experience and adoption.
        let mut praise = false;
        if self.rng.gen_bool((0.7 * (0.5 + self.s) * yr).min(1.0)) {
            self.s = (self.s + self.rng.gen_range(0.04..0.09)).min(0.98);
            self.events.push("good_support");
            praise = true;
        }
        let train = 0.2 + 2.0 * w.owners[self.p.owner].quality.max(0.0);
        if self.onboarding_factor(from) >= 1.0 && self.rng.gen_bool((train * yr).min(1.0)) {
            let day = self.rng.gen_range(from..=to);
            self.training(day);
        }

        // Open enrollment.
        if self.p.benefits {
            for year in [cal::civil(from).0, cal::civil(to).0] {
                let day = cal::from_civil(year, self.p.oe_month, 1) + (self.p.phase % 12) as Day;
                if (from..=to).contains(&day) && self.oe_until < day {
                    self.oe_until = day + 27;
                    let mut detail = format!("Open enrollment for plan year {} opened; closes ", {
                        if self.p.oe_month >= 9 { year + 1 } else { year }
                    });
                    cal::push_spoken(&mut detail, day + 27);
                    self.op(op_kind::OPEN_ENROLLMENT_STARTED, day, detail);
                    self.events.push("open_enrollment");
                }
            }
        }
        let in_oe = from <= self.oe_until;
        if in_oe && self.s < 0.55 {
            self.s -= 0.02;
        }

        // Price increase notice, 60 days before the anniversary.
        let notice = self.next_anniv - 60;
        if !self.notice_done && (from..=to).contains(&notice) {
            self.notice_done = true;
            let regime = self.w.price_regime_from.is_some_and(|d| notice >= d);
            let p_rise = if regime {
                0.9
            } else {
                PRICE_RISE_P[self.p.seg]
            };
            if self.rng.gen_bool(p_rise) {
                let pct = if regime {
                    self.rng.gen_range(0.10..0.20)
                } else if self.p.seg == 2 {
                    self.rng.gen_range(0.03..0.07)
                } else {
                    self.rng.gen_range(0.05..0.15)
                };
                self.pending_rise = pct;
                self.shock += pct * 8.0 * self.p.price_sens;
                self.truth.price_increases += 1;
                let plan = PLANS[self.plan];
                let mut detail = format!(
                    "Per-employee price on the {} plan rises {:.0}% (${:.2} to ${:.2}) at renewal on ",
                    plan.name,
                    pct * 100.0,
                    plan.pepm * self.price_mult,
                    plan.pepm * self.price_mult * (1.0 + pct)
                );
                cal::push_spoken(&mut detail, self.next_anniv);
                self.op(op_kind::PRICE_INCREASE, notice, detail);
                self.events.push("price_increase");
            }
        }

        // Latent drift.
        let onb = self.onboarding_factor(mon);
        let a_target =
            (self.p.a_base * onb - 0.35 * (0.6 - self.s).max(0.0) - 0.08 * self.shock.min(1.5)
                + 0.05 * self.u.clamp(-2.0, 2.0))
            .clamp(0.05, 0.95);
        let z = self.normal();
        self.a = (self.a + 0.07 * (a_target - self.a) + 0.015 * z).clamp(0.02, 0.98);
        let bad_onb = self.p.onboarding.is_some_and(|o| o.bad) && onb < 1.0;
        let s_target = self.p.s_base - if bad_onb { 0.08 } else { 0.0 };
        let z = self.normal();
        self.s = (self.s + 0.10 * (s_target - self.s) + 0.018 * z).clamp(0.05, 0.98);
        let target = self.p.rel_base + 0.35 * (self.s - 0.65) + 0.25 * (self.a - 0.6);
        let shock = self.shock;
        for i in 0..self.people.len() {
            let z: f64 = self.rng.sample(StandardNormal);
            let c = &mut self.people[i];
            let t = target + 0.3 * c.offset - 0.12 * price_felt(c.persona) * shock;
            c.warmth = (c.warmth + 0.05 * (t - c.warmth) + 0.015 * z).clamp(0.02, 0.98);
        }
        self.r = self.relationship();
        self.shock *= 0.93;
        let z = self.normal();
        self.u = 0.97 * self.u + 0.243 * z;
        self.update_health();
        self.x_ema = 0.8 * self.x_ema + 0.2 * self.x;

        // Churn decisions.
        let seg = self.p.seg;
        let mut churn: Option<(Day, ChurnKind, &'static str)> = None;
        if let Some((day, reason)) = self.p.doomed
            && (from..=to).contains(&day)
        {
            churn = Some((day, ChurnKind::Exogenous, reason));
        }
        let mut p_renew = 0.0;
        let renewal_now = (from..=to).contains(&self.next_anniv);
        if renewal_now {
            let first = self.anniv_k == 1;
            let lost_champion = self
                .champion_left_day
                .is_some_and(|d| d > self.next_anniv - 182)
                && self.active(Persona::Champion).is_none();
            // After a change of regime the price shock drives renewals.
            let price_weight = if self
                .w
                .price_regime_from
                .is_some_and(|d| self.next_anniv >= d)
            {
                2.5
            } else {
                0.9
            };
            let logit = RENEW_C0[seg] - RENEW_SLOPE * (self.x_ema - 0.55)
                + price_weight * self.shock
                + if first { 0.5 } else { 0.0 }
                + if lost_champion { 0.35 } else { 0.0 }
                + RENEW_SLOPE * EVALUATION_PULL * self.evaluating();
            p_renew = sigmoid(logit);
            if churn.is_none() && self.rng.gen_bool(p_renew) {
                churn = Some((
                    self.next_anniv,
                    ChurnKind::Renewal,
                    self.reason(price_weight),
                ));
            }
        }
        // An evaluation pulls mid-term decisions as it pulls renewals.
        let decided = 100.0 * sigmoid(self.x - EVALUATION_PULL * self.evaluating());
        let p_mid = MIDTERM_MAX[seg] * sigmoid((22.0 - decided) / 4.0) * frac;
        if churn.is_none() && self.rng.gen_bool(p_mid) {
            let day = self.rng.gen_range(from..=to);
            churn = Some((day, ChurnKind::Midterm, self.reason(0.0)));
        }
        let p_exo = EXO_RATE[seg] * self.p.industry.exo * yr;
        let hazard = 1.0 - (1.0 - p_renew) * (1.0 - p_mid) * (1.0 - p_exo);

        // What the provider sees this week, up to the churn.
        let last = churn.map_or(to, |(d, _, _)| d - 1);
        let ob_from = from.max(self.p.start);
        if last >= ob_from {
            let span = f64::from((last - ob_from + 1) as u32) / 7.0;
            let mut lambda = CONTACT_RATE[seg] / 4.33
                * (self.seats as f64 / SEAT_MEDIAN[seg]).powf(0.15)
                * (0.5 + 1.8 * (1.0 - self.s))
                * (0.7 + 0.8 * (1.0 - self.a))
                * (-0.3 * (self.x - 0.55)).exp()
                * span;
            if onb < 1.0 {
                lambda *= 1.6;
            }
            if in_oe {
                lambda *= 1.35;
            }
            let n = if lambda > 0.0 {
                Poisson::new(lambda).map_or(0.0, |d| d.sample(&mut self.rng)) as u32
            } else {
                0
            };
            for _ in 0..n {
                let day = self.work_day(ob_from, last);
                self.ordinary(day);
            }
            for &(day, topic, bias, esc) in &threads {
                if day <= last {
                    let stop = 0.3 + 0.5 * self.s;
                    let len = self.thread_len(stop);
                    let who = self.pick_contact(topic, 1.0);
                    let escalate = esc + 0.4 * (1.0 - self.s);
                    self.thread(day, topic, Intent::Problem, bias, len, escalate, who);
                }
            }
            if praise {
                let day = self.work_day(ob_from, last);
                let topic = self.pick_topic(day);
                let who = self.pick_contact(topic, 1.0);
                let thread = self.rng.r#gen();
                self.interaction(Spec {
                    day,
                    topic,
                    intent: Intent::Praise,
                    bias: 0.3,
                    thread,
                    ordinal: 1,
                    contact: who,
                    channel: None,
                    escalate: 0.0,
                    contacts_to_resolve: 1,
                    reopened: false,
                });
            }
            if (k + idx_off) % 8 == 2 {
                self.review_people(last);
            }
            if (k + 5 * idx_off).is_multiple_of(13) {
                self.nps(ob_from, last);
            }
        }
        if mon >= self.p.start
            && mon >= w.window_start
            && mon + 6 <= w.end
            && churn.is_none_or(|(d, _, _)| mon + 6 < d)
        {
            self.usage_row(mon, month, dom);
        }

        // Commercial moves, for accounts that stay.
        if churn.is_none() {
            self.headcount *= (self.p.growth / 52.0 - 0.004 * self.downturn()
                + self.p.industry.churny_staff * 0.5 * self.normal())
            .exp();
            if let Some((d, "out_of_business")) = self.p.doomed
                && d - to < 84
            {
                self.headcount *= 0.97;
            }
            self.headcount = self.headcount.max(1.0);
            if (k + idx_off).is_multiple_of(4) {
                self.monthly(from, to);
            }
            if (k + 3 * idx_off) % 13 == 6 {
                self.true_up(from, to);
            }
            if renewal_now {
                self.renew();
            }
        }

        self.weeks.push(TruthWeek {
            account_id: self.p.id.clone(),
            week: mon,
            health: self.health,
            adoption: self.a,
            support_quality: self.s,
            relationship: self.r,
            price_shock: self.shock,
            business: self.u,
            evaluating: self.evaluating_until.is_some(),
            mood: self.mood,
            churn_hazard: hazard,
            events: self.events.join(";"),
        });
        self.health_sum += self.health;
        self.health_n += 1;
        churn
    }

    /// An incident's toll on the support experience and the people hit.
    fn incident(&mut self, lo: f64, hi: f64, hurt: &[Persona]) {
        self.s = (self.s - self.rng.gen_range(lo..hi)).max(0.05);
        for c in self.people.iter_mut() {
            if c.active && hurt.contains(&c.persona) {
                c.warmth = (c.warmth - 0.08).max(0.02);
            }
        }
        self.truth.incidents += 1;
    }

    fn training(&mut self, day: Day) {
        let course = [
            "Payroll admin certification",
            "Reporting workshop",
            "Benefits administration training",
            "Time tracking setup session",
            "New admin orientation",
        ][self.rng.gen_range(0..5)];
        let n = 1 + self.rng.gen_range(0..4);
        self.op(
            op_kind::TRAINING_COMPLETED,
            day,
            format!(
                "{course} completed by {n} admin{}",
                if n == 1 { "" } else { "s" }
            ),
        );
        self.p.a_base = (self.p.a_base + 0.04).min(0.95);
        self.a = (self.a + 0.03).min(0.98);
        self.events.push("training_completed");
    }

    /// An ordinary contact: a question, a problem, a request, maybe praise,
    /// and for problems that were not solved the first time, follow-ups.
    fn ordinary(&mut self, day: Day) {
        let topic = self.pick_topic(day);
        let bad = 1.0 - self.s;
        let x = self.rng.r#gen::<f64>();
        let p_problem = 0.22 + 0.35 * bad;
        let p_praise = 0.03 + 0.10 * self.mood.max(0.0);
        let intent = if x < p_problem {
            Intent::Problem
        } else if x < p_problem + 0.18 {
            Intent::Request
        } else if x < p_problem + 0.18 + p_praise {
            Intent::Praise
        } else {
            Intent::Question
        };
        let who = self.pick_contact(topic, 1.0);
        let repeat = intent != Intent::Praise && self.rng.gen_bool(0.06 + 0.30 * bad.powf(1.5));
        if repeat {
            let len = 2 + u32::from(self.rng.gen_bool(0.25 + 0.4 * bad));
            self.thread(day, topic, intent, -0.1, len, 0.05 + 0.2 * bad, who);
            return;
        }
        let escalate = 0.02 + 0.2 * bad * bad + if intent == Intent::Problem { 0.03 } else { 0.0 };
        let ctr = if self.rng.gen_bool(0.10 + 0.35 * bad) {
            2 + i64::from(self.rng.gen_bool(0.3))
        } else {
            1
        };
        let thread = self.rng.r#gen();
        let bias = if intent == Intent::Problem {
            -0.15
        } else {
            0.0
        };
        let reopened = self.rng.gen_bool(0.02 + 0.08 * bad);
        self.interaction(Spec {
            day,
            topic,
            intent,
            bias,
            thread,
            ordinal: 1,
            contact: who,
            channel: None,
            escalate,
            contacts_to_resolve: ctr,
            reopened,
        });
    }

    fn nps(&mut self, from: Day, last: Day) {
        let mut answered = 0;
        for i in 0..self.people.len() {
            if answered >= 4 || !self.people[i].active {
                continue;
            }
            let base = [0.15, 0.20, 0.12, 0.08, 0.10][persona_index(self.people[i].persona)];
            if !self.rng.gen_bool((base * (0.5 + self.r)).min(1.0)) {
                continue;
            }
            answered += 1;
            let (warmth, offset) = (self.people[i].warmth, self.people[i].offset);
            let felt = evaluation_felt(self.people[i].persona) * self.evaluating();
            let q = 7.8 + 8.0 * (self.health / 100.0 - 0.62) + 2.5 * (warmth - 0.55) + 0.5 * offset
                - EVALUATION_NPS * felt
                + 1.6 * self.normal();
            let score = q.round().clamp(0.0, 10.0) as i64;
            let day = self.rng.gen_range(from..=last);
            let at = day_ts(day) + self.rng.gen_range(12 * 3600..23 * 3600);
            let mut comment = String::new();
            if self.rng.gen_bool(0.45) {
                let drivers = [
                    (Driver::Price, self.shock * 0.8),
                    (Driver::Support, 0.65 - self.s),
                    (Driver::Adoption, 0.6 - self.a),
                    (Driver::Relationship, 0.55 - self.r),
                    (Driver::Competitor, 0.5 * felt),
                ];
                let driver = drivers
                    .iter()
                    .filter(|d| d.1 > 0.05)
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map_or(Driver::General, |d| d.0);
                let ctx = Ctx {
                    company: &self.p.name,
                    states: &self.p.states,
                    cadence: self.p.cadence,
                    n_emp: self.seats,
                    noun: self.p.industry.noun,
                };
                let msg = Msg {
                    topic: Topic::ALL[self.rng.gen_range(0..Topic::ALL.len())],
                    tone: Tone::Neutral,
                    strong: false,
                    intent: Intent::Question,
                    channel: Channel::Email,
                    persona: self.people[i].persona,
                    ordinal: 1,
                    thread: self.rng.r#gen(),
                    ctx: &ctx,
                    first: self.people[i].first,
                    day,
                };
                text::write_nps_comment(&msg, score, driver, &mut self.rng, &mut comment);
            }
            self.surveys.push(SurveyResponse {
                deleted_at: None,
                id: String::new(),
                account_id: self.p.id.clone(),
                contact_id: Some(self.people[i].id.clone()),
                kind: SurveyKind::Nps,
                score,
                comment,
                responded_at: at,
            });
        }
    }

    fn usage_row(&mut self, mon: Day, month: u32, dom: u32) {
        let season = if (month == 12 && dom >= 22) || (month == 1 && dom <= 1) {
            0.7
        } else if month == 7 || month == 8 {
            0.95
        } else {
            1.0
        };
        let p = (self.a * season * (1.0 + 0.06 * self.normal())).clamp(0.0, 1.0);
        let seats = self.seats.max(0) as u64;
        let active = Binomial::new(seats, p).map_or(0, |b| b.sample(&mut self.rng)) as i64;
        let rate = active as f64 * (1.4 + 2.8 * self.a) * season;
        let logins = if rate > 0.0 {
            Poisson::new(rate).map_or(0.0, |d| d.sample(&mut self.rng)) as i64
        } else {
            0
        };
        let f = PLANS[self.plan].features;
        let features = (f as f64 * (0.25 + 0.75 * self.a) + 0.8 * self.normal())
            .round()
            .clamp(0.0, f as f64) as i64;
        self.usage.push(Usage {
            account_id: self.p.id.clone(),
            day: mon,
            period_days: 7,
            active_users: active,
            logins,
            features_used: if active == 0 { 0 } else { features },
        });
    }

    /// Monthly: expansion, contraction and failed payments.
    fn monthly(&mut self, from: Day, to: Day) {
        let seg = self.p.seg;
        let settled = self.onboarding_factor(from) >= 1.0 && from > self.p.start + 56;
        let day = self.rng.gen_range(from..=to);
        let at = day_ts(day) + self.rng.gen_range(9 * 3600..20 * 3600);
        let (mrr0, seats0) = (self.mrr, self.seats);
        let p_up = EXPAND_BASE[seg] * sigmoid((self.health - 62.0) / 7.0) * (0.5 + self.a);
        let p_down =
            DOWNGRADE_BASE[seg] * (sigmoid((38.0 - self.health) / 6.0) + 0.6 * self.downturn());
        if settled && self.rng.gen_bool(p_up.min(1.0)) {
            if self.plan < 2 && self.rng.gen_bool(0.45) {
                self.plan += 1;
                self.mrr = self.price();
                let reason = [
                    "needs_benefits_admin",
                    "needs_advanced_reporting",
                    "multi_state_support",
                ][self.rng.gen_range(0..3)];
                self.sub(SubscriptionKind::Upgrade, at, mrr0, seats0, reason);
                self.events.push("expansion_upgrade");
            } else {
                let grow = self.rng.gen_range(0.10..0.40);
                self.headcount *= 1.0 + grow;
                self.seats = self.headcount.round().max(1.0) as i64;
                self.mrr = self.price();
                let reason = [
                    "new_location",
                    "acquired_company_added",
                    "added_contractors",
                ][self.rng.gen_range(0..3)];
                self.sub(SubscriptionKind::SeatChange, at, mrr0, seats0, reason);
                self.events.push("expansion_seats");
            }
            self.truth.expanded = true;
            self.truth.expansion_day.get_or_insert(day);
        } else if settled && self.rng.gen_bool(p_down.min(1.0)) {
            if self.plan > 0 && self.rng.gen_bool(0.45) {
                self.plan -= 1;
                self.mrr = self.price();
                self.sub(
                    SubscriptionKind::Downgrade,
                    at,
                    mrr0,
                    seats0,
                    "cost_reduction",
                );
                self.events.push("downgrade");
            } else {
                let cut = self.rng.gen_range(0.10..0.30);
                self.headcount *= 1.0 - cut;
                self.seats = self.headcount.round().max(1.0) as i64;
                self.mrr = self.price();
                let reason = if self.rng.gen_bool(0.5) {
                    "moved_employees_elsewhere"
                } else {
                    "reduced_usage"
                };
                self.sub(SubscriptionKind::SeatChange, at, mrr0, seats0, reason);
                self.events.push("seat_reduction");
            }
            self.truth.contracted = true;
        }
        let mut p_fail = PAYMENT_FAIL[seg] * (1.0 + 4.0 * (1.0 - self.health / 100.0).powi(2));
        if let Some((d, "out_of_business")) = self.p.doomed
            && d - to < 84
        {
            p_fail *= 5.0;
        }
        p_fail *= 1.0 + self.downturn();
        if self.rng.gen_bool(p_fail.min(1.0)) {
            let reason =
                ["card_declined", "insufficient_funds", "ach_returned"][self.rng.gen_range(0..3)];
            let at = at + 3_600;
            self.sub(
                SubscriptionKind::PaymentFailed,
                at,
                self.mrr,
                self.seats,
                reason,
            );
            self.events.push("payment_failed");
        }
    }

    /// Quarterly: billed seats catch up with the customer's head count.
    fn true_up(&mut self, from: Day, to: Day) {
        let new = self.headcount.round().max(1.0) as i64;
        let diff = (new - self.seats).abs();
        if diff >= 2.max((self.seats as f64 * 0.04) as i64) {
            let (mrr0, seats0) = (self.mrr, self.seats);
            self.seats = new;
            self.mrr = self.price();
            let day = self.rng.gen_range(from..=to);
            let at = day_ts(day) + self.rng.gen_range(9 * 3600..20 * 3600);
            self.sub(
                SubscriptionKind::SeatChange,
                at,
                mrr0,
                seats0,
                "headcount_true_up",
            );
            self.events.push("seat_true_up");
        }
    }

    fn renew(&mut self) {
        let (mrr0, seats0) = (self.mrr, self.seats);
        if self.pending_rise > 0.0 {
            self.price_mult *= 1.0 + self.pending_rise;
            self.mrr = self.price();
            self.pending_rise = 0.0;
        }
        let at = day_ts(self.next_anniv) + 6 * 3600;
        self.sub(SubscriptionKind::Renewal, at, mrr0, seats0, "");
        self.events.push("renewal");
        self.anniv_k += 1;
        self.next_anniv = cal::anniversary(self.p.start, self.anniv_k);
        self.notice_done = false;
    }

    /// Why a health-driven churn happened. With a small probability it is a
    /// reason that left no trace (a competitor's offer or a budget cut
    /// nobody saw coming); otherwise it is the largest of the account's own
    /// pressures (price shock, support experience, adoption, cooling
    /// relationships, a lost champion, a competitor's evaluation, a
    /// downturn), so each reason follows its own traces in the data. Each
    /// weighs what it weighs in the decision, in units of health: its weight
    /// in `x` (for an evaluation, its pull), plus, for the price shock at a
    /// renewal, the renewal logit's own `price_weight` over [`RENEW_SLOPE`]
    /// (0 for a mid-term churn, which follows health alone). One uniform
    /// draw either way (whatever the weights, so no other draw moves).
    fn reason(&mut self, price_weight: f64) -> &'static str {
        let lost = self.active(Persona::Champion).is_none() && self.champion_left_day.is_some();
        let own = [
            (
                "price",
                (1.2 + price_weight / RENEW_SLOPE) * self.shock + 0.05,
            ),
            ("support_experience", 3.5 * (0.65 - self.s).max(0.0) + 0.05),
            ("low_adoption", 3.0 * (0.6 - self.a).max(0.0) + 0.05),
            ("weak_relationship", 3.0 * (0.55 - self.r).max(0.0) + 0.05),
            ("champion_left", if lost { 0.6 } else { 0.0 }),
            ("competitor", EVALUATION_PULL * self.evaluating()),
            ("budget_cuts", 0.35 * (-self.u).max(0.0)),
        ];
        let other = [("competitor", 0.03), ("budget_cuts", 0.03)];
        let total: f64 = own.iter().chain(&other).map(|w| w.1).sum();
        let mut x = self.rng.gen_range(0.0..total);
        for (r, wt) in other {
            if x < wt {
                return r;
            }
            x -= wt;
        }
        own.iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or("competitor", |w| w.0)
    }

    fn churn(&mut self, day: Day, kind: ChurnKind, reason: &'static str) {
        let at = day_ts(day) + 12 * 3600;
        let (mrr0, seats0) = (self.mrr, self.seats);
        self.sub(SubscriptionKind::Churn, at, mrr0, seats0, reason);
        self.truth.churned = true;
        self.truth.churn_day = Some(day);
        self.truth.churn_kind = Some(kind);
        self.truth.churn_reason = reason.to_string();
        if let Some(last) = self.weeks.last_mut() {
            let tag = match kind {
                ChurnKind::Renewal => "churn_renewal",
                ChurnKind::Midterm => "churn_midterm",
                ChurnKind::Exogenous => "churn_exogenous",
            };
            if !last.events.is_empty() {
                last.events.push(';');
            }
            last.events.push_str(tag);
        }
    }

    // -----------------------------------------------------------------------
    // Output.

    fn finish(mut self) -> AccountOut {
        let w = self.w;
        let churn_at = self.truth.churn_day.map(|d| day_ts(d) + 12 * 3600);
        let limit = churn_at.unwrap_or(w.end_ts).min(w.end_ts);

        // Nothing after the end of the window or after the churn.
        let mut drop_survey = vec![false; self.surveys.len()];
        for &(ii, si) in &self.csat_links {
            if self.surveys[si].responded_at > limit {
                drop_survey[si] = true;
                self.interactions[ii].csat = None;
            }
        }
        let mut keep = drop_survey.iter().map(|d| !d);
        self.surveys.retain(|_| keep.next().unwrap_or(true));
        self.surveys.retain(|s| s.responded_at <= limit);
        self.interactions.retain(|i| i.opened_at <= limit);
        for i in &mut self.interactions {
            if i.first_response_at.is_some_and(|t| t > limit) {
                i.first_response_at = None;
            }
            if i.resolved_at.is_some_and(|t| t > limit) {
                i.resolved_at = None;
                i.csat = None;
            }
        }
        self.contacts.retain(|c| c.observed_at <= limit);
        // A record may name only a contact already known when it happened
        // (a replacement drawn later in the week, or one dropped above, is not).
        let mut first_seen: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
        for c in &self.contacts {
            let e = first_seen.entry(c.id.as_str()).or_insert(c.observed_at);
            *e = (*e).min(c.observed_at);
        }
        let known = |id: &Option<String>, at: i64| {
            id.as_deref()
                .is_some_and(|c| first_seen.get(c).is_some_and(|&t| t <= at))
        };
        for i in &mut self.interactions {
            if i.contact_id.is_some() && !known(&i.contact_id, i.opened_at) {
                i.contact_id = None;
            }
        }
        for sv in &mut self.surveys {
            if sv.contact_id.is_some() && !known(&sv.contact_id, sv.responded_at) {
                sv.contact_id = None;
            }
        }
        self.ops.retain(|o| o.occurred_at <= limit);
        self.subs.retain(|s| s.occurred_at <= limit);

        // In time order within the account, ids in that order.
        self.interactions.sort_by_key(|i| i.opened_at);
        self.surveys.sort_by_key(|s| s.responded_at);
        self.ops.sort_by_key(|o| o.occurred_at);
        self.subs.sort_by_key(|s| s.occurred_at);
        self.contacts.sort_by_key(|c| c.observed_at);
        let id = &self.p.id;
        for (n, i) in self.interactions.iter_mut().enumerate() {
            i.id = format!("{id}-i{:04}", n + 1);
        }
        for (n, s) in self.surveys.iter_mut().enumerate() {
            s.id = format!("{id}-v{:03}", n + 1);
        }
        for (n, o) in self.ops.iter_mut().enumerate() {
            o.id = format!("{id}-o{:03}", n + 1);
        }
        for (n, s) in self.subs.iter_mut().enumerate() {
            s.id = format!("{id}-s{:03}", n + 1);
        }

        let churned = self.truth.churned;
        let renewal_date = match self.truth.churn_day {
            None => {
                let mut k = self.anniv_k;
                while cal::anniversary(self.p.start, k) <= w.end {
                    k += 1;
                }
                cal::anniversary(self.p.start, k)
            }
            Some(d) => {
                let mut k = 1;
                while cal::anniversary(self.p.start, k + 1) <= d {
                    k += 1;
                }
                cal::anniversary(self.p.start, k)
            }
        };
        let account = Account {
            id: self.p.id.clone(),
            name: self.p.name.clone(),
            segment: self.truth.segment,
            industry: self.p.industry.code.to_string(),
            region: self.p.region.to_string(),
            plan: PLANS[self.plan].name.to_string(),
            mrr: if churned { 0.0 } else { money(self.mrr) },
            seats: self.seats,
            owner: w.owners[self.p.owner].name.clone(),
            start_date: self.p.start,
            renewal_date: Some(renewal_date),
            status: if churned {
                AccountStatus::Churned
            } else {
                AccountStatus::Active
            },
        };
        let mut truth = self.truth;
        if self.health_n > 0 {
            truth.mean_health = self.health_sum / f64::from(self.health_n);
            truth.final_health = self.health;
        }
        AccountOut {
            account,
            contacts: self.contacts,
            interactions: self.interactions,
            usage: self.usage,
            subscriptions: self.subs,
            surveys: self.surveys,
            operational: self.ops,
            truth,
            weeks: self.weeks,
        }
    }
}

/// How much a competitor's evaluation shows in a contact's words and survey
/// answers: those who decide and pay weigh it, admins a little, end users
/// not at all.
fn evaluation_felt(persona: Persona) -> f64 {
    match persona {
        Persona::Champion | Persona::ExecutiveSponsor => 1.0,
        Persona::Billing => 0.8,
        Persona::Admin => 0.5,
        Persona::EndUser => 0.0,
    }
}

/// How much of a price rise a contact feels in their mood and warmth: those
/// who pay the invoices fully, the executive sponsor a little, the people who
/// use the product day to day not at all. (The account's health and renewal
/// decision feel all of it.) So a price rise leaves its trace in the billing
/// contacts' words, not in every contact's.
fn price_felt(persona: Persona) -> f64 {
    match persona {
        Persona::Billing => 1.0,
        Persona::ExecutiveSponsor => 0.3,
        Persona::Admin | Persona::EndUser | Persona::Champion => 0.0,
    }
}
