//! `pulse lists` (generate, show, export, portfolio) and `pulse outreach`
//! (record, report): the weekly lists and the outreach loop on the store in
//! use, through the same code as `ListService`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use pulse_app::lists::{self, OutreachInput, RowFilter, StoredLists};
use pulse_core::time::format_day;
use pulse_lists::{ExpansionRow, MoverRow, RiskRow};
use pulse_store::ListWrite;

use crate::config::Config;

/// `pulse lists`.
#[derive(Debug, Args)]
pub(crate) struct ListsArgs {
    #[command(subcommand)]
    what: ListsWhat,
}

/// Which list to show or export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// The at-risk list.
    Risk,
    /// The expansion-ready list.
    Expansion,
    /// Risers and accounts newly red since last week.
    Movers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Csv,
    Json,
}

#[derive(Debug, Args)]
struct Filters {
    /// ISO week, e.g. 2026-W48 [default: the latest generated week].
    #[arg(long)]
    week: Option<String>,
    /// Only this owner's accounts.
    #[arg(long)]
    owner: Option<String>,
    /// smb, mid_market or enterprise.
    #[arg(long)]
    segment: Option<String>,
    /// green, yellow or red.
    #[arg(long)]
    band: Option<String>,
    /// At most N rows.
    #[arg(long)]
    top: Option<usize>,
    /// Which list.
    #[arg(long, value_enum, default_value_t = Kind::Risk)]
    list: Kind,
    /// At-risk list: every ranked account, not only the owners' weekly slices.
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Subcommand)]
enum ListsWhat {
    /// Generate (or regenerate) a week's lists from that week's stored scoring run.
    Generate {
        /// ISO week, e.g. 2026-W48 [default: this week].
        #[arg(long)]
        week: Option<String>,
    },
    /// Print a week's list as a table.
    Show(Filters),
    /// Write a week's list as CSV or JSON.
    Export {
        #[command(flatten)]
        filters: Filters,
        #[arg(long, value_enum)]
        format: Format,
        /// Output file [default: standard output].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// One owner's book in a week: accounts and ARR by band, movers, outreach.
    Portfolio {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        week: Option<String>,
    },
}

/// `pulse outreach`.
#[derive(Debug, Args)]
pub(crate) struct OutreachArgs {
    #[command(subcommand)]
    what: OutreachWhat,
}

#[derive(Debug, Subcommand)]
enum OutreachWhat {
    /// Record an outreach to an account.
    Record {
        #[arg(long)]
        account: String,
        /// The play used (e.g. the list row's suggested play).
        #[arg(long)]
        play: String,
        /// Who reached out.
        #[arg(long)]
        who: String,
        /// call, email, meeting, chat, visit or other.
        #[arg(long)]
        channel: String,
        /// reached, no_answer, saved, churned_anyway, expanded (or pending).
        #[arg(long)]
        outcome: String,
        /// When, RFC 3339 or YYYY-MM-DD [default: now].
        #[arg(long)]
        when: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
        /// Record id; re-using one updates that record [default: derived].
        #[arg(long)]
        id: Option<String>,
    },
    /// Per play: contacted accounts and what became of them, against matched
    /// uncontacted accounts and the random holdout.
    Report {
        /// First ISO week [default: 11 weeks before --to].
        #[arg(long)]
        from: Option<String>,
        /// Last ISO week [default: the latest generated].
        #[arg(long)]
        to: Option<String>,
    },
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A server error as a command-line error (the message names the field).
fn cli_err(e: pulse_app::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub(crate) async fn run_lists(cfg: &Config, args: ListsArgs) -> anyhow::Result<()> {
    let store = crate::open_store(cfg).await?;
    let r = match args.what {
        ListsWhat::Generate { week } => generate(cfg, &store, week.as_deref().unwrap_or("")).await,
        ListsWhat::Show(f) => {
            let mut out = std::io::stdout().lock();
            show(&store, &f, &mut out).await
        }
        ListsWhat::Export {
            filters,
            format,
            out,
        } => export(&store, &filters, format, out).await,
        ListsWhat::Portfolio { owner, week } => {
            portfolio(&store, &owner, week.as_deref().unwrap_or("")).await
        }
    };
    store.close().await;
    r
}

pub(crate) async fn run_outreach(cfg: &Config, args: OutreachArgs) -> anyhow::Result<()> {
    let store = crate::open_store(cfg).await?;
    let r = match args.what {
        OutreachWhat::Record {
            account,
            play,
            who,
            channel,
            outcome,
            when,
            note,
            id,
        } => {
            let when = when.unwrap_or_default();
            let contacted_at = if when.len() == 10 {
                format!("{when}T12:00:00Z")
            } else {
                when
            };
            let (id, updated) = lists::record_outreach(
                &store,
                // The local CLI works on the store directly: no caller.
                None,
                OutreachInput {
                    id: id.unwrap_or_default(),
                    account_id: account,
                    play,
                    who,
                    contacted_at,
                    channel,
                    outcome,
                    note,
                },
                cfg.clock.now(),
            )
            .await
            .map_err(cli_err)?;
            println!(
                "{} outreach {id}",
                if updated { "Updated" } else { "Recorded" }
            );
            Ok(())
        }
        OutreachWhat::Report { from, to } => report(cfg, &store, from, to).await,
    };
    store.close().await;
    r
}

async fn generate(cfg: &Config, store: &pulse_store::Store, week: &str) -> anyhow::Result<()> {
    let w = lists::week_or_current("--week", week, cfg.clock.today()).map_err(cli_err)?;
    let started = std::time::Instant::now();
    let saved = lists::generate(
        store,
        &cfg.lists,
        &w,
        ListWrite::Replace,
        "manual",
        threads(),
        &cfg.clock,
    )
    .await
    .map_err(cli_err)?
    .context("the week's lists were not written")?;
    let s = &saved.params.summary;
    println!(
        "Lists for {} (generation {}) from scoring run {} as of {} ({}), in {:.1} s",
        saved.run.week,
        saved.run.generation,
        saved.run.score_run_id,
        format_day(saved.run.as_of),
        saved.run.churn_version,
        started.elapsed().as_secs_f64()
    );
    println!(
        "  at-risk list: {} accounts ranked, {} yellow or red, {} in the owners' slices (capacity {} each), {} held out",
        s.accounts, s.at_risk, s.in_capacity, saved.params.config.capacity_per_owner, s.holdout
    );
    println!(
        "  expected ARR at risk in the slices {}; expected saved ARR {} if outreach saves {:.0}% of it (lists.save_rate, an assumption)",
        pulse_lists::money(s.capacity_arr_at_risk),
        pulse_lists::money(s.expected_saved_arr),
        100.0 * s.save_rate
    );
    println!("  reasons in the slices: {}", s.reasons.statement);
    println!(
        "  expansion-ready: {}; risers: {}; newly red: {}",
        saved.params.expansion_accounts, saved.params.risers, saved.params.newly_red
    );
    Ok(())
}

fn filter(f: &Filters) -> anyhow::Result<RowFilter> {
    RowFilter::new(
        f.owner.as_deref().unwrap_or(""),
        f.segment.as_deref().unwrap_or(""),
        f.band.as_deref().unwrap_or(""),
        f.top.unwrap_or(0),
    )
    .map_err(cli_err)
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

enum Rows {
    Risk(Vec<RiskRow>),
    Expansion(Vec<ExpansionRow>),
    Movers(Vec<MoverRow>, Vec<MoverRow>),
}

async fn read(store: &pulse_store::Store, f: &Filters) -> anyhow::Result<(StoredLists, Rows)> {
    let rf = filter(f)?;
    let l = lists::load(store, "--week", f.week.as_deref().unwrap_or(""))
        .await
        .map_err(cli_err)?;
    let rows = match f.list {
        Kind::Risk => Rows::Risk(
            lists::risk_rows(store, &l, &rf, !f.all)
                .await
                .map_err(cli_err)?,
        ),
        Kind::Expansion => Rows::Expansion(
            lists::expansion_rows(store, &l, &rf)
                .await
                .map_err(cli_err)?,
        ),
        Kind::Movers => {
            let (a, b) = lists::mover_rows(store, &l, &rf).await.map_err(cli_err)?;
            Rows::Movers(a, b)
        }
    };
    Ok((l, rows))
}

async fn show(store: &pulse_store::Store, f: &Filters, out: &mut dyn Write) -> anyhow::Result<()> {
    let (l, rows) = read(store, f).await?;
    let s = &l.params.summary;
    writeln!(
        out,
        "{} lists (generation {}, scoring run {} as of {}, models {} / {})",
        l.run.week,
        l.run.generation,
        l.run.score_run_id,
        format_day(l.run.as_of),
        l.run.churn_version,
        l.run.expansion_version.as_deref().unwrap_or("none")
    )?;
    match rows {
        Rows::Risk(rows) => {
            writeln!(
                out,
                "At-risk {}: {} rows. Slices of {} per owner hold {} of expected ARR at risk; expected saved {} at an assumed save rate of {:.0}%.",
                if f.all {
                    "list (every ranked account)"
                } else {
                    "slices"
                },
                rows.len(),
                l.params.config.capacity_per_owner,
                pulse_lists::money(s.capacity_arr_at_risk),
                pulse_lists::money(s.expected_saved_arr),
                100.0 * s.save_rate
            )?;
            if !s.reasons.statement.is_empty() {
                writeln!(out, "Reasons in the slices: {}", s.reasons.statement)?;
            }
            writeln!(
                out,
                "{:>5} {:<14} {:<22} {:<10} {:<10} {:>10} {:>6} {:<6} {:>7} {:>7}  {:<30} {:<40} contacted",
                "rank",
                "account",
                "name",
                "owner",
                "segment",
                "ARR",
                "churn",
                "band",
                "change",
                "renewal",
                "top reason",
                "play"
            )?;
            for r in &rows {
                let change = r.change.map_or("new".to_string(), |c| {
                    format!("{:+.1}", 100.0 * c.churn_probability)
                });
                let renewal = r.days_to_renewal.map_or("-".into(), |d| format!("{d}d"));
                let contacted = r.contacted.as_ref().map_or(String::new(), |c| {
                    format!("{} {} ({})", format_day(c.day), c.outcome, cut(&c.play, 20))
                });
                writeln!(
                    out,
                    "{:>5} {:<14} {:<22} {:<10} {:<10} {:>10} {:>5.1}% {:<6} {:>7} {:>7}  {:<30} {:<40} {}{}",
                    r.rank,
                    cut(&r.account_id, 14),
                    cut(&r.name, 22),
                    cut(&r.owner, 10),
                    r.segment,
                    pulse_lists::money(r.arr),
                    100.0 * r.churn_probability,
                    r.band,
                    change,
                    renewal,
                    cut(r.drivers.first().map_or("", String::as_str), 30),
                    cut(&r.suggested_play, 40),
                    contacted,
                    if r.held_back { " [held back]" } else { "" }
                )?;
            }
            writeln!(
                out,
                "change: churn probability points since last week. Full drivers: `pulse lists export --format json`."
            )?;
        }
        Rows::Expansion(rows) => {
            writeln!(
                out,
                "Expansion-ready: {} rows (green, good experience; propensity x headroom)",
                rows.len()
            )?;
            writeln!(
                out,
                "{:>5} {:<14} {:<22} {:<10} {:<13} {:>10} {:>6} {:>10} {:>10}  signals",
                "rank", "account", "name", "owner", "plan", "ARR", "prop.", "headroom", "expected"
            )?;
            for r in &rows {
                writeln!(
                    out,
                    "{:>5} {:<14} {:<22} {:<10} {:<13} {:>10} {:>5.1}% {:>10} {:>10}  {}",
                    r.rank,
                    cut(&r.account_id, 14),
                    cut(&r.name, 22),
                    cut(&r.owner, 10),
                    cut(&r.plan, 13),
                    pulse_lists::money(r.arr),
                    100.0 * r.expansion_probability,
                    pulse_lists::money(r.headroom_arr),
                    pulse_lists::money(r.expected_expansion_arr),
                    r.signals.get(2..).map(|s| s.join("; ")).unwrap_or_default()
                )?;
            }
        }
        Rows::Movers(risers, red) => {
            for (title, rows) in [("Risers", &risers), ("Newly red", &red)] {
                writeln!(out, "{title}: {}", rows.len())?;
                writeln!(
                    out,
                    "{:>5} {:<14} {:<22} {:<10} {:>10} {:>13} {:>8}  {:<40} play",
                    "rank", "account", "name", "owner", "ARR", "churn", "health", "top driver"
                )?;
                for r in rows.iter() {
                    writeln!(
                        out,
                        "{:>5} {:<14} {:<22} {:<10} {:>10} {:>5.1}%->{:>5.1}% {:>+8.1}  {:<40} {}",
                        r.rank,
                        cut(&r.account_id, 14),
                        cut(&r.name, 22),
                        cut(&r.owner, 10),
                        pulse_lists::money(r.arr),
                        100.0 * r.previous_churn_probability,
                        100.0 * r.churn_probability,
                        r.health_change,
                        cut(r.drivers.first().map_or("", String::as_str), 40),
                        r.suggested_play
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn opt_num<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

async fn export(
    store: &pulse_store::Store,
    f: &Filters,
    format: Format,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let (l, rows) = read(store, f).await?;
    let mut sink: Box<dyn Write> = match &out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    match format {
        Format::Json => {
            let rows = match &rows {
                Rows::Risk(r) => serde_json::to_value(r)?,
                Rows::Expansion(r) => serde_json::to_value(r)?,
                Rows::Movers(a, b) => serde_json::json!({"risers": a, "newly_red": b}),
            };
            let doc = serde_json::json!({
                "week": l.run.week,
                "list_run_id": l.run.list_run_id,
                "score_run_id": l.run.score_run_id,
                "as_of": format_day(l.run.as_of),
                "churn_model": l.run.churn_version,
                "expansion_model": l.run.expansion_version,
                "generation": l.run.generation,
                "params": l.params,
                "rows": rows,
            });
            serde_json::to_writer_pretty(&mut sink, &doc)?;
            writeln!(sink)?;
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(&mut sink);
            match &rows {
                Rows::Risk(rows) => {
                    w.write_record(pulse_lists::RISK_CSV_HEADER)?;
                    for r in rows {
                        w.write_record(pulse_lists::risk_csv_record(&l.run.week, r))?;
                    }
                }
                Rows::Expansion(rows) => {
                    w.write_record([
                        "week",
                        "rank",
                        "account_id",
                        "name",
                        "owner",
                        "segment",
                        "plan",
                        "arr",
                        "health",
                        "experience",
                        "expansion_probability",
                        "next_plan",
                        "upgrade_arr",
                        "seat_overage_arr",
                        "headroom_arr",
                        "expected_expansion_arr",
                        "signals",
                    ])?;
                    for r in rows {
                        w.write_record([
                            l.run.week.clone(),
                            r.rank.to_string(),
                            r.account_id.clone(),
                            r.name.clone(),
                            r.owner.clone(),
                            r.segment.clone(),
                            r.plan.clone(),
                            format!("{:.2}", r.arr),
                            format!("{:.2}", r.health),
                            opt_num(r.experience.map(|e| format!("{e:.1}"))),
                            format!("{:.6}", r.expansion_probability),
                            r.next_plan.clone().unwrap_or_default(),
                            format!("{:.2}", r.upgrade_arr),
                            format!("{:.2}", r.seat_overage_arr),
                            format!("{:.2}", r.headroom_arr),
                            format!("{:.2}", r.expected_expansion_arr),
                            r.signals.join("; "),
                        ])?;
                    }
                }
                Rows::Movers(risers, red) => {
                    w.write_record([
                        "week",
                        "list",
                        "rank",
                        "account_id",
                        "name",
                        "owner",
                        "segment",
                        "band",
                        "arr",
                        "previous_churn_probability",
                        "churn_probability",
                        "health_change",
                        "newly_red",
                        "driver_1",
                        "suggested_play",
                    ])?;
                    for (list, rows) in [("risers", risers), ("newly_red", red)] {
                        for r in rows {
                            w.write_record([
                                l.run.week.clone(),
                                list.to_string(),
                                r.rank.to_string(),
                                r.account_id.clone(),
                                r.name.clone(),
                                r.owner.clone(),
                                r.segment.clone(),
                                r.band.clone(),
                                format!("{:.2}", r.arr),
                                format!("{:.6}", r.previous_churn_probability),
                                format!("{:.6}", r.churn_probability),
                                format!("{:.2}", r.health_change),
                                r.newly_red.to_string(),
                                r.drivers.first().cloned().unwrap_or_default(),
                                r.suggested_play.clone(),
                            ])?;
                        }
                    }
                }
            }
            w.flush()?;
        }
    }
    drop(sink);
    if let Some(p) = out {
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}

async fn portfolio(store: &pulse_store::Store, owner: &str, week: &str) -> anyhow::Result<()> {
    let (l, p) = lists::portfolio(store, owner, week)
        .await
        .map_err(cli_err)?;
    println!(
        "{}'s book in {}: {} accounts, {} ARR, {} expected ARR at risk, {} in this week's slice",
        p.owner,
        l.run.week,
        p.accounts,
        pulse_lists::money(p.arr),
        pulse_lists::money(p.arr_at_risk),
        p.in_capacity
    );
    for b in &p.bands {
        println!(
            "  {:<6} {:>5} accounts {:>12} ARR {:>12} at risk",
            b.band,
            b.accounts,
            pulse_lists::money(b.arr),
            pulse_lists::money(b.arr_at_risk)
        );
    }
    println!(
        "  movers: {}",
        if p.movers.is_empty() {
            "none".to_string()
        } else {
            p.movers
                .iter()
                .map(|m| {
                    format!(
                        "{} {:.1}%->{:.1}%{}",
                        m.account_id,
                        100.0 * m.previous_churn_probability,
                        100.0 * m.churn_probability,
                        if m.newly_red { " (newly red)" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let o = &p.outreach;
    println!(
        "  outreach this week: {} (reached {}, no answer {}, saved {}, churned anyway {}, expanded {}, pending {})",
        p.outreach_total, o.reached, o.no_answer, o.saved, o.churned_anyway, o.expanded, o.pending
    );
    Ok(())
}

async fn report(
    cfg: &Config,
    store: &pulse_store::Store,
    from: Option<String>,
    to: Option<String>,
) -> anyhow::Result<()> {
    let (weeks, plays) = lists::outreach_report(
        store,
        &cfg.lists,
        from.as_deref().unwrap_or(""),
        to.as_deref().unwrap_or(""),
        cfg.clock.now(),
    )
    .await
    .map_err(cli_err)?;
    if weeks.is_empty() {
        bail!("no lists generated in those weeks: run `pulse lists generate` first");
    }
    println!(
        "Outreach report over {} list week(s): {} .. {}",
        weeks.len(),
        weeks.first().map_or("", String::as_str),
        weeks.last().map_or("", String::as_str)
    );
    if plays.is_empty() {
        println!(
            "No outreach recorded in the week after any of these lists (`pulse outreach record`)."
        );
    }
    let pct = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{:.1}%", 100.0 * v));
    for p in &plays {
        let o = &p.outcomes;
        println!();
        println!("{}", p.play);
        println!(
            "  contacted {} (reached {}, no answer {}, saved {}, churned anyway {}, expanded {}, pending {})",
            p.contacted, o.reached, o.no_answer, o.saved, o.churned_anyway, o.expanded, o.pending
        );
        println!(
            "  churned {} of {} settled ({}); matched uncontacted {} (n={}); holdout {} (n={})",
            p.churned,
            p.settled,
            pct(p.churn_rate),
            pct(p.matched_churn_rate),
            p.matched_accounts,
            pct(p.holdout_churn_rate),
            p.holdout_accounts
        );
        println!("  {}", p.verdict);
    }
    println!();
    println!("{}", lists::report_method(&cfg.lists));
    Ok(())
}
