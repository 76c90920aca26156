//! `idic measure`: what each treatment caused, from the contact history's arms and the
//! customers' outcomes (orders or events) within a window after each run; `idic measure plan`:
//! how many customers a holdout needs to show an effect.
//!
//! Exit codes: 0 measured (weak evidence is said in words, not an error), 2 usage or I/O (no
//! such history, an outcomes file none of whose rows can be read).

use super::order_flags::column;
use super::run::usage;
use super::{named, Exit};
use idic::analytics::effect::{self, Interval};
use idic::analytics::join::{self, ById};
use idic::analytics::orders::{
    each_order, OrderColumns, OrderFormat, OrderTally, OrdersError, PurchaseDay,
};
use idic::analytics::uplift::{self, Cohort, Measured, Row, Treatment};
use idic::history::{store, Arm, Measurable, RunKind, Store};
use idic::io::guard::Std;
use idic::io::{CsvCells, Files};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    measure: MeasureArgs,
}

#[derive(clap::Args)]
struct MeasureArgs {
    /// The contact history: a SQLite file, or a directory holding `history.sqlite`.
    #[arg(long, value_name = "PATH", required = true)]
    history: Option<PathBuf>,
    /// The outcomes: an orders file, or an events file with `--event`.
    #[arg(long, value_name = "FILE", required = true)]
    outcomes: Option<PathBuf>,
    /// Read the outcomes as the rule set's `orders` block maps an orders file.
    #[arg(long, value_name = "RULES")]
    rules: Option<PathBuf>,
    /// Days after each run's `as_of` in which an outcome counts (`30d`, `2w`, `1m`).
    #[arg(long, default_value = "30d", value_parser = window)]
    window: u32,
    /// The last day the outcomes are complete for [default: the latest outcome's date]: a run
    /// whose window ends later is reported as open, not measured.
    #[arg(long, value_name = "DATE")]
    through: Option<String>,
    /// Also measure each group of customers, as recorded when they were decided.
    #[arg(long, value_enum)]
    by: Option<By>,
    /// How to write the measurement.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Where the measurement goes; `-` is standard output.
    #[arg(long, value_name = "FILE", default_value = "-")]
    out: PathBuf,
    #[command(flatten)]
    columns: super::order_flags::OrderFlags,
    /// An events file: the event that counts as converting (other events are skipped).
    #[arg(long, value_name = "NAME")]
    event: Option<String>,
    /// The events file's event-name column.
    #[arg(
        long,
        value_name = "COLUMN",
        default_value = "event",
        requires = "event"
    )]
    event_column: String,
    /// The events file's value column, if it has one.
    #[arg(long, value_name = "COLUMN", requires = "event")]
    value: Option<String>,
    #[command(flatten)]
    csv: super::CsvArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum By {
    Segment,
    Tier,
    Stage,
    Channel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
    Csv,
}

/// `30d`, `2w` or `1m` (30 days) as days, at least one.
fn window(text: &str) -> Result<u32, String> {
    let days = text.trim().parse::<idic::model::Duration>()?.days();
    if days == 0 {
        return Err("a window of 0 days holds no outcome: give one such as `30d`".into());
    }
    Ok(days)
}

#[derive(clap::Subcommand)]
enum Command {
    /// The customers per arm needed to detect an effect with 80% power at 5% two-sided
    /// significance.
    Plan(PlanArgs),
}

#[derive(clap::Args)]
struct PlanArgs {
    /// The control arm's conversion rate: `3%` or `0.03`.
    #[arg(long, value_parser = rate)]
    baseline: f64,
    /// The effect to detect: relative (`10%`, the treated converting at 1.1 times the
    /// baseline) or absolute in points (`0.5pt`: 3% to 3.5%).
    #[arg(long, value_parser = lift)]
    effect: Lift,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    format: PlanFormat,
    /// A contact history: say how many runs of each holdout's latest volume the plan takes.
    #[arg(long, value_name = "PATH")]
    history: Option<PathBuf>,
}

/// A holdout's volume in the latest run that recorded it, and what the plan asks of it.
#[derive(Debug, serde::Serialize)]
struct Volume {
    treatment: String,
    run: i64,
    as_of: Option<String>,
    /// Customers in each arm (the global holdout's treated: all of them, recorded or not).
    treated: u64,
    control: u64,
    /// Controls needed at this run's ratio of controls to treated: `n (1 + k) / 2` with `n`
    /// the equal arms' size and `k = control / treated`.
    controls_needed: u64,
    /// Runs of this volume to gather them.
    runs_needed: u64,
}

/// Each holdout's latest volume in the history at `path`, and the runs `per_arm` takes.
fn volumes(path: &std::path::Path, per_arm: u64) -> Result<Vec<Volume>, String> {
    let path = store::resolve(path);
    let store = Store::read(&path)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("there is no contact history at `{}`", path.display()))?;
    let mut listed: Vec<std::collections::HashSet<Box<str>>> = Vec::new();
    let measurable = store
        .measurable(|group, customer| {
            if listed.len() <= group {
                listed.resize_with(group + 1, Default::default);
            }
            listed[group].insert(customer.into());
        })
        .map_err(|e| e.to_string())?;
    // Per treatment, its latest run with controls, and the customers of each arm in it.
    let mut latest: std::collections::BTreeMap<Treatment, i64> = Default::default();
    let mut arms: HashMap<(Treatment, i64, Arm), std::collections::HashSet<&str>> = HashMap::new();
    let mut counted: HashMap<(Treatment, i64), u64> = HashMap::new();
    for (i, g) in measurable.groups.iter().enumerate() {
        let Some(treatment) = treatment_of(g) else {
            continue;
        };
        let names = listed.get(i).into_iter().flatten().map(|c| &**c);
        arms.entry((treatment.clone(), g.run, g.arm))
            .or_default()
            .extend(names);
        if let (true, Arm::Treated) = (g.global, g.arm) {
            *counted.entry((treatment.clone(), g.run)).or_default() += g.customers.unwrap_or(0);
        }
        if g.arm == Arm::Control {
            let run = latest.entry(treatment).or_insert(g.run);
            *run = (*run).max(g.run);
        }
    }
    let mut volumes = Vec::new();
    for (treatment, run) in latest {
        let count = |arm| {
            arms.get(&(treatment.clone(), run, arm))
                .map_or(0, |s| s.len() as u64)
        };
        let control = count(Arm::Control);
        let treated = counted
            .get(&(treatment.clone(), run))
            .copied()
            .unwrap_or(0)
            .max(count(Arm::Treated));
        if control == 0 || treated == 0 {
            continue;
        }
        let k = control as f64 / treated as f64;
        let controls_needed = (per_arm as f64 * (1.0 + k) / 2.0).ceil() as u64;
        volumes.push(Volume {
            treatment: treatment.name().to_string(),
            run,
            as_of: measurable
                .runs
                .iter()
                .find(|r| r.run == run)
                .and_then(|r| r.as_of.clone()),
            treated,
            control,
            controls_needed,
            runs_needed: controls_needed.div_ceil(control),
        });
    }
    Ok(volumes)
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum PlanFormat {
    Text,
    Json,
}

/// An effect as the user gave it.
#[derive(Clone, Copy, Debug)]
enum Lift {
    /// A share of the baseline: 0.1 for `10%`.
    Relative(f64),
    /// Points of conversion: 0.005 for `0.5pt`.
    Absolute(f64),
}

/// `3%` or `0.03`: a rate from 0 to 1.
fn rate(text: &str) -> Result<f64, String> {
    let value = percent(text)?;
    if (0.0..1.0).contains(&value) && value > 0.0 {
        Ok(value)
    } else {
        Err(format!("`{text}` is not a rate above 0% and below 100%"))
    }
}

/// `12%` as 0.12, `0.12` as itself.
fn percent(text: &str) -> Result<f64, String> {
    let number = |t: &str| {
        t.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("`{text}` is not a number such as `3%` or `0.03`"))
    };
    match text.trim().strip_suffix('%') {
        Some(p) => number(p).map(|x| x / 100.0),
        None => number(text),
    }
}

/// `10%` (relative) or `0.5pt` (absolute points).
fn lift(text: &str) -> Result<Lift, String> {
    let lift = match text.trim().strip_suffix("pt") {
        Some(points) => Lift::Absolute(
            points
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("`{text}` is not a number of points such as `0.5pt`"))?
                / 100.0,
        ),
        None => Lift::Relative(percent(text)?),
    };
    match lift {
        Lift::Relative(x) | Lift::Absolute(x) if x.is_finite() && x != 0.0 => Ok(lift),
        _ => Err(format!(
            "`{text}` is no effect: give one such as `10%` or `0.5pt`"
        )),
    }
}

pub fn run(args: Args) -> Exit {
    match args.command {
        Some(Command::Plan(plan)) => run_plan(plan),
        None => match measure(args.measure) {
            Ok(exit) => exit,
            Err(message) => usage(message),
        },
    }
}

fn run_plan(plan: PlanArgs) -> Exit {
    let treated = match plan.effect {
        Lift::Relative(r) => plan.baseline * (1.0 + r),
        Lift::Absolute(points) => plan.baseline + points,
    };
    let Some(per_arm) =
        effect::sample_size(plan.baseline, treated).filter(|_| (0.0..=1.0).contains(&treated))
    else {
        return super::run::usage(format!(
            "the treated would convert at {:.2}%: an effect must keep the rate between 0% and \
             100%",
            treated * 100.0
        ));
    };
    let per_arm = per_arm.ceil() as u64;
    let volumes = match plan
        .history
        .as_deref()
        .map(|h| volumes(h, per_arm))
        .transpose()
    {
        Ok(volumes) => volumes,
        Err(message) => return usage(message),
    };
    match plan.format {
        PlanFormat::Text => {
            let group = |n: u64| idic::text::group(n);
            show!(
                "baseline   {:.2}% conversion among controls",
                plan.baseline * 100.0
            );
            show!(
                "effect     {:+.2} points ({:+.1}% relative): treated at {:.2}%",
                (treated - plan.baseline) * 100.0,
                (treated / plan.baseline - 1.0) * 100.0,
                treated * 100.0
            );
            show!(
                "needs      {} customers in each arm, {} in all (80% power, 5% two-sided)",
                group(per_arm),
                group(2 * per_arm)
            );
            for v in volumes.iter().flatten() {
                show!(
                    "{:<22} run {} ({}): {} treated, {} controls; at that ratio {} controls, {} runs",
                    v.treatment,
                    v.run,
                    v.as_of.as_deref().unwrap_or("-"),
                    group(v.treated),
                    group(v.control),
                    group(v.controls_needed),
                    group(v.runs_needed)
                );
            }
            if volumes.as_ref().is_some_and(Vec::is_empty) {
                show!("the history holds no run with controls to plan from");
            }
        }
        PlanFormat::Json => {
            let json = serde_json::json!({
                "baseline": plan.baseline,
                "treated": treated,
                "absolute_effect": treated - plan.baseline,
                "relative_effect": treated / plan.baseline - 1.0,
                "power": 0.8,
                "significance": 0.05,
                "per_arm": per_arm,
                "formula": "two-proportion sample size, equal arms: (1.96 sqrt(2 p(1-p)) + 0.8416 sqrt(p1(1-p1) + p2(1-p2)))^2 / (p1-p2)^2, p = (p1+p2)/2",
                "volumes": volumes,
                "volumes_formula": "controls needed at a run's ratio k = control / treated: per_arm (1 + k) / 2; runs: that over the run's controls, rounded up",
            });
            super::out(&format!("{json}\n"));
        }
    }
    Exit::Ok
}

/// The treatment a recorded group is measured as: its trigger, or the global holdout; `None`
/// for a service message (no holdout) and an imported contact without a trigger.
fn treatment_of(g: &idic::history::MeasuredGroup) -> Option<Treatment> {
    match (&g.trigger, g.global) {
        (_, true) => Some(Treatment::GlobalHoldout),
        (Some(trigger), false) if !g.service => Some(Treatment::Trigger(trigger.clone())),
        _ => None,
    }
}

/// The groups a customer of a recorded group is measured in, by `--by`.
fn groups_of(by: Option<By>, g: &idic::history::MeasuredGroup) -> Vec<&str> {
    const NONE: &str = "(none)";
    match by {
        None => Vec::new(),
        Some(By::Tier) => vec![g.tier.as_deref().unwrap_or(NONE)],
        Some(By::Stage) => vec![g.stage.as_deref().unwrap_or(NONE)],
        Some(By::Channel) => vec![g.channel.as_deref().unwrap_or("(all channels)")],
        Some(By::Segment) => match g.segments.as_deref() {
            None | Some("") => vec![NONE],
            Some(list) => list.split(';').collect(),
        },
    }
}

/// How to read the outcomes file: the rule set's `orders` block, an events file, or the
/// orders columns named by the flags.
fn outcome_columns(args: &MeasureArgs) -> Result<OrderColumns, String> {
    if let Some(rules) = &args.rules {
        let (program, _) = super::run::load(rules, &super::ReadArgs::default(), "nothing measured")
            .map_err(|_| format!("the rule set `{}` has errors (above)", rules.display()))?;
        let rules_model = program.rules();
        let block = rules_model.orders.as_ref().ok_or_else(|| {
            format!(
                "`--rules {}` has no `orders` block saying how to read an orders file",
                rules.display()
            )
        })?;
        return idic::analytics::declared::order_columns(block, rules_model.missing_words())
            .ok_or_else(|| {
                format!(
                    "the `orders` block of `{}` names no orders-file columns (`customer`, `date`, \
                     `amount`)",
                    rules.display()
                )
            });
    }
    let columns = args.columns.columns();
    Ok(match &args.event {
        Some(name) => OrderColumns {
            amount: args.value.as_deref().map(column),
            event: Some((column(&args.event_column), name.clone())),
            ..columns
        },
        None => columns,
    })
}

/// What the outcomes and the history held besides the measured figures.
#[derive(Debug, Default, serde::Serialize)]
struct Notes {
    /// What reading the outcomes did (rows after `--through` are `after_as_of`).
    outcomes: idic::analytics::orders::OrderTally,
    /// Customers in the outcomes that the history never recorded, and their outcome days.
    unknown_customers: u64,
    unknown_customer_days: u64,
    /// Outcome days of recorded customers on or before their first recorded contact.
    days_before_contact: u64,
    /// Imported contacts (no arms) and service contacts (no holdout), not measured.
    imported_contacts: u64,
    service_contacts: u64,
    /// Triggers recorded without a single control.
    triggers_without_controls: Vec<String>,
}

fn measure(args: MeasureArgs) -> Result<Exit, String> {
    let (Some(history), Some(outcomes)) = (&args.history, &args.outcomes) else {
        return Err("give `--history PATH` and `--outcomes FILE`".into());
    };
    let path = store::resolve(history);
    let mut files = Files::default();
    files
        .reads(named("--history", history), &path)
        .reads(named("--outcomes", outcomes), outcomes)
        .writes(named("--out", &args.out), &args.out, Std::Out);
    if let Some(rules) = &args.rules {
        files.reads(named("--rules", rules), rules);
    }
    files.check()?;
    let through_flag = match &args.through {
        Some(text) => Some(super::run::resolve_as_of(Some(text), None)?),
        None => None,
    };
    let format = args.columns.format(outcomes)?;
    let columns = outcome_columns(&args)?;

    // The history and the outcomes are read at once, on two threads, each cut by customer id
    // as it is read, then joined.
    let read_until = through_flag.unwrap_or(chrono::NaiveDate::MAX);
    let (history_read, outcomes_read) = std::thread::scope(|scope| {
        let outcomes_read = scope.spawn(|| read_outcomes(outcomes, format, &columns, read_until));
        let history_read = read_history(&path);
        (history_read, outcomes_read.join())
    });
    let (measurable, recorded) = history_read?;
    let (mut tally, by_id, latest) = outcomes_read
        .map_err(|_| "reading the outcomes failed".to_string())?
        .map_err(|e| super::order_flags::read_error(outcomes, &e, args.rules.is_none()))?;
    // Outcomes no row of which reads stop here, before any joining.
    if let Some(why) = tally.none_readable() {
        return Err(format!(
            "`{}`: {why}; do the column flags (or the rules' `orders` block) fit the file?",
            outcomes.display()
        ));
    }
    if tally.rows == 0 && tally.other_events > 0 {
        return Err(format!(
            "`{}` has no event `{}` ({} rows of other events)",
            outcomes.display(),
            args.event.as_deref().unwrap_or_default(),
            tally.other_events
        ));
    }
    super::order_flags::say_rejects(outcomes, &tally);
    let through = match through_flag {
        Some(date) => date,
        None => latest
            .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
            .ok_or_else(|| format!("`{}` holds no outcome", outcomes.display()))?,
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut joined = join::join(recorded, by_id, threads);
    tally.purchases = joined.outcome_days();

    // The runs measured: idic's own, with the date they decided at.
    let mut runs = Vec::new();
    let mut run_index = HashMap::new();
    for run in &measurable.runs {
        let as_of = run.as_of.as_deref().and_then(|d| d.parse().ok());
        if let (RunKind::Run, Some(as_of)) = (run.kind, as_of) {
            run_index.insert(run.run, runs.len());
            runs.push(uplift::Run {
                number: run.run,
                as_of,
            });
        }
    }
    let mut notes = Notes::default();
    // Groups in name order, numbered by their place.
    let group_names: Vec<&str> = measurable
        .groups
        .iter()
        .flat_map(|g| groups_of(args.by, g))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut cohorts = Vec::new();
    let mut cohort_of = vec![None; measurable.groups.len()];
    for (i, g) in measurable.groups.iter().enumerate() {
        let (Some(&run), Some(treatment)) = (run_index.get(&g.run), treatment_of(g)) else {
            continue;
        };
        let groups = groups_of(args.by, g)
            .into_iter()
            .map(|name| group_names.binary_search(&name).expect("listed above") as u32)
            .collect();
        cohort_of[i] = Some(cohorts.len() as u32);
        cohorts.push(Cohort {
            run,
            treatment,
            arm: g.arm,
            groups,
            counted: g.customers,
        });
    }
    // Each recorded (group, customer) as (cohort, customer), in place.
    let mut members = std::mem::take(&mut joined.members);
    members.retain_mut(|(group, _)| match cohort_of[*group as usize] {
        Some(cohort) => {
            *group = cohort;
            true
        }
        None => {
            if measurable.groups[*group as usize].service {
                notes.service_contacts += 1;
            } else {
                notes.imported_contacts += 1;
            }
            false
        }
    });

    notes.unknown_customers = joined.unknown_customers;
    notes.unknown_customer_days = joined.unknown_days;
    notes.outcomes = tally;
    let window = uplift::Window {
        days: args.window,
        through,
    };
    let measured = uplift::measure(&runs, &cohorts, &mut members, |c| joined.days(c), window);
    notes.days_before_contact = measured.before_contact;
    // Treatments without controls in any run (rows come by treatment).
    let controlled: std::collections::HashSet<&Treatment> = measured
        .rows
        .iter()
        .filter(|r| r.evidence != uplift::Evidence::NoControls)
        .map(|r| &r.treatment)
        .collect();
    notes.triggers_without_controls = measured
        .rows
        .iter()
        .map(|r| &r.treatment)
        .filter(|t| !controlled.contains(t))
        .map(|t| t.name().to_string())
        .collect();
    notes.triggers_without_controls.dedup();
    let report = Report {
        runs: &runs,
        groups: &group_names,
        measured: &measured,
        window,
        by: args.by,
        notes: &notes,
    };
    let text = match args.format {
        Format::Text => report.text(),
        Format::Json => report.json(),
        Format::Csv => report.csv(args.csv.cells()),
    };
    super::write_texts(vec![(named("--out", &args.out), args.out.as_path(), text)])?;
    Ok(Exit::Ok)
}

/// The history at `path`: what it recorded, and each recorded customer with the group it is
/// listed in.
fn read_history(path: &std::path::Path) -> Result<(Measurable, ById<u32>), String> {
    let store = Store::read(path)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("there is no contact history at `{}`", path.display()))?;
    let mut recorded = ById::default();
    let measurable = store
        .measurable(|group, customer| recorded.add(customer, group as u32))
        .map_err(|e| e.to_string())?;
    Ok((measurable, recorded))
}

/// The outcomes file read up to `until`: its tally, each outcome by customer id, and the
/// latest outcome's day.
fn read_outcomes(
    path: &std::path::Path,
    format: OrderFormat,
    columns: &OrderColumns,
    until: chrono::NaiveDate,
) -> Result<(OrderTally, ById<PurchaseDay>, Option<i32>), OrdersError> {
    let mut by_id = ById::default();
    let mut latest = None;
    let tally = each_order(path, format, columns, until, |order| {
        latest = latest.max(Some(order.day));
        let day = PurchaseDay {
            day: order.day,
            amount: order.amount,
        };
        by_id.add(order.customer, day);
    })?;
    Ok((tally, by_id, latest))
}

/// An interval for people: `+2.93 pt (-4.62 to +11.07)`, each figure times `scale` with
/// `decimals` decimals, `unit` after the estimate; `-` when there is none.
fn interval(i: Option<Interval>, scale: f64, decimals: usize, unit: &str) -> String {
    i.map_or("-".to_string(), |i| {
        format!(
            "{:+.*}{unit} ({:+.*} to {:+.*})",
            decimals,
            i.estimate * scale,
            decimals,
            i.lower * scale,
            decimals,
            i.upper * scale
        )
    })
}

/// A measurement with what it needs to be written.
struct Report<'a> {
    runs: &'a [uplift::Run],
    groups: &'a [&'a str],
    measured: &'a Measured,
    window: uplift::Window,
    by: Option<By>,
    notes: &'a Notes,
}

/// The formulas, as the README names them.
const FORMULAS: [(&str, &str); 6] = [
    ("absolute_lift", "p_t - p_c, Newcombe's hybrid score interval (method 10) from the Wilson intervals of each arm, 95%"),
    ("relative_lift", "p_t / p_c - 1, delta-method interval: se = (1/p_c) sqrt(se_t^2 + (p_t/p_c)^2 se_c^2)"),
    ("value_difference", "mean value per customer, treated - control, Welch's interval (Welch-Satterthwaite degrees of freedom)"),
    ("incremental", "absolute lift and value difference times the treated customers (all of them for the global holdout), intervals scaled alike"),
    ("p_value", "pooled two-proportion z test, two-sided"),
    ("minimum_detectable_effect", "absolute lift detected with 80% power at 5% two-sided significance, for equal arms of the harmonic mean of the two arms' sizes"),
];

impl Report<'_> {
    fn run_of(&self, row: &Row) -> &uplift::Run {
        &self.runs[row.run]
    }

    fn group_of(&self, row: &Row) -> Option<&str> {
        row.group.map(|g| self.groups[g as usize])
    }

    fn window_end(&self, run: &uplift::Run) -> chrono::NaiveDate {
        run.as_of + chrono::Days::new(u64::from(self.window.days))
    }

    fn json(&self) -> String {
        let interval = |i: Option<Interval>| {
            i.map(
                |i| serde_json::json!({"estimate": i.estimate, "lower": i.lower, "upper": i.upper}),
            )
        };
        let rows: Vec<_> = self
            .measured
            .rows
            .iter()
            .map(|r| {
                let run = self.run_of(r);
                serde_json::json!({
                    "run": run.number,
                    "as_of": run.as_of.to_string(),
                    "window_ends": self.window_end(run).to_string(),
                    "treatment": r.treatment.name(),
                    "kind": match r.treatment { Treatment::Trigger(_) => "trigger", Treatment::GlobalHoldout => "global_holdout" },
                    "group": self.group_of(r),
                    "treated": r.treated,
                    "control": r.control,
                    "treated_total": r.treated_total,
                    "absolute_lift": interval(r.effect.absolute_lift),
                    "relative_lift": interval(r.effect.relative_lift),
                    "value_difference": interval(r.effect.value_difference),
                    "incremental_conversions": interval(r.effect.incremental_conversions),
                    "incremental_value": interval(r.effect.incremental_value),
                    "p_value": r.effect.p_value,
                    "minimum_detectable_effect": r.effect.minimum_detectable_effect,
                    "evidence": r.evidence,
                    "evidence_words": r.evidence.words(),
                })
            })
            .collect();
        let open: Vec<_> = self
            .measured
            .open
            .iter()
            .map(|&r| {
                let run = &self.runs[r];
                serde_json::json!({"run": run.number, "as_of": run.as_of.to_string(), "window_ends": self.window_end(run).to_string()})
            })
            .collect();
        let json = serde_json::json!({
            "window_days": self.window.days,
            "outcomes_through": self.window.through.to_string(),
            "by": self.by.map(|b| format!("{b:?}").to_lowercase()),
            "confidence": 0.95,
            "formulas": FORMULAS.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect::<serde_json::Map<_, _>>(),
            "rows": rows,
            "open_runs": open,
            "notes": self.notes,
        });
        idic::text::json_pretty(&json)
    }

    fn csv(&self, cells: CsvCells) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = ["run", "as_of", "window_ends", "treatment", "kind", "group"]
            .map(String::from)
            .to_vec();
        for arm in ["treated", "control"] {
            for figure in ["customers", "converted", "rate", "value_mean", "value_sd"] {
                header.push(format!("{arm}_{figure}"));
            }
        }
        header.push("treated_total".into());
        for figure in [
            "absolute_lift",
            "relative_lift",
            "value_difference",
            "incremental_conversions",
            "incremental_value",
        ] {
            for part in ["", "_lower", "_upper"] {
                header.push(format!("{figure}{part}"));
            }
        }
        header.extend(["p_value", "minimum_detectable_effect", "evidence"].map(String::from));
        let _ = w.write_record(&header);
        let number = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
        for r in &self.measured.rows {
            let run = self.run_of(r);
            let mut record = vec![
                run.number.to_string(),
                run.as_of.to_string(),
                self.window_end(run).to_string(),
                cells.cell(r.treatment.name()).into_owned(),
                match r.treatment {
                    Treatment::Trigger(_) => "trigger".into(),
                    Treatment::GlobalHoldout => "global_holdout".into(),
                },
                self.group_of(r)
                    .map(|g| cells.cell(g).into_owned())
                    .unwrap_or_default(),
            ];
            for arm in [&r.treated, &r.control] {
                record.extend([
                    arm.customers.to_string(),
                    arm.converted.to_string(),
                    number(arm.rate),
                    arm.value_mean.to_string(),
                    arm.value_sd.to_string(),
                ]);
            }
            record.push(r.treated_total.to_string());
            let e = &r.effect;
            for i in [
                e.absolute_lift,
                e.relative_lift,
                e.value_difference,
                e.incremental_conversions,
                e.incremental_value,
            ] {
                record.extend([
                    number(i.map(|i| i.estimate)),
                    number(i.map(|i| i.lower)),
                    number(i.map(|i| i.upper)),
                ]);
            }
            record.extend([
                number(e.p_value),
                number(e.minimum_detectable_effect),
                serde_json::to_value(r.evidence)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            ]);
            let _ = w.write_record(&record);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    fn text(&self) -> String {
        use idic::text::group as group_of_thousands;
        let mut out = String::new();
        let pct = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{:.2}%", x * 100.0));
        let points = |i| interval(i, 100.0, 2, " pt");
        let measured_runs = self.runs.len() - self.measured.open.len();
        let _ = writeln!(
            out,
            "Outcomes within {} days after each run's as_of, known through {}; {} of {} runs measured; 95% intervals.",
            self.window.days,
            self.window.through,
            measured_runs,
            self.runs.len()
        );
        // Each treatment and group: its latest run in full, then every run in a line. A
        // trigger without controls is named once, at the end.
        let rows = &self.measured.rows;
        let mut from = 0;
        while from < rows.len() {
            let same = |x: &Row| x.treatment == rows[from].treatment && x.group == rows[from].group;
            let to = from + rows[from..].iter().take_while(|x| same(x)).count();
            let runs = &rows[from..to];
            from = to;
            if runs
                .iter()
                .all(|x| x.evidence == uplift::Evidence::NoControls)
            {
                continue;
            }
            let r = runs.last().expect("a run");
            let run = self.run_of(r);
            let _ = writeln!(out);
            let name = match &r.treatment {
                Treatment::GlobalHoldout => "(global holdout): all marketing triggers together",
                t => t.name(),
            };
            let group = self
                .group_of(r)
                .map(|g| format!(" / {g}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{name}{group}: run {} (as_of {}), the latest measured",
                run.number, run.as_of
            );
            for (arm, figures) in [("treated", &r.treated), ("control", &r.control)] {
                let _ = writeln!(
                    out,
                    "  {arm}  {:>9} customers  converted {:>7}  value per customer {:.2}",
                    group_of_thousands(figures.customers),
                    pct(figures.rate),
                    figures.value_mean
                );
            }
            if r.evidence != uplift::Evidence::NoControls
                && r.evidence != uplift::Evidence::NoTreated
            {
                let e = &r.effect;
                let _ = writeln!(
                    out,
                    "  lift     {}   relative {}",
                    points(e.absolute_lift),
                    interval(e.relative_lift, 100.0, 1, "%")
                );
                let _ = writeln!(
                    out,
                    "  value    {} per customer",
                    interval(e.value_difference, 1.0, 2, "")
                );
                let _ = writeln!(
                    out,
                    "  incremental {} conversions, {} in value, over {} treated",
                    interval(e.incremental_conversions, 1.0, 0, ""),
                    interval(e.incremental_value, 1.0, 2, ""),
                    group_of_thousands(r.treated_total)
                );
                let _ = writeln!(
                    out,
                    "  p-value  {}   detectable at these sizes: {} (80% power)",
                    e.p_value.map_or("-".into(), |p| format!("{p:.3}")),
                    e.minimum_detectable_effect
                        .map_or("-".into(), |m| format!("{:.2} pt", m * 100.0))
                );
            }
            let _ = writeln!(out, "  => {}", r.evidence.words());
            if runs.len() > 1 {
                let _ = writeln!(
                    out,
                    "  {:>5} {:<10} {:>9} {:>9} {:>8} {:>8}  lift (95% interval)",
                    "run", "as_of", "treated", "control", "conv. t", "conv. c"
                );
                for x in runs {
                    let run = self.run_of(x);
                    let _ = writeln!(
                        out,
                        "  {:>5} {:<10} {:>9} {:>9} {:>8} {:>8}  {}",
                        run.number,
                        run.as_of,
                        group_of_thousands(x.treated.customers),
                        group_of_thousands(x.control.customers),
                        pct(x.treated.rate),
                        pct(x.control.rate),
                        points(x.effect.absolute_lift)
                    );
                }
            }
        }
        let _ = writeln!(out);
        for &r in &self.measured.open {
            let run = &self.runs[r];
            let _ = writeln!(
                out,
                "Run {} (as_of {}) is not measured: its window ends {}, after the outcomes known (through {}).",
                run.number,
                run.as_of,
                self.window_end(run),
                self.window.through
            );
        }
        let n = self.notes;
        if !n.triggers_without_controls.is_empty() {
            let _ = writeln!(
                out,
                "No controls recorded for {}: give a trigger a `holdout` to measure it.",
                n.triggers_without_controls.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "Outcomes: {} rows, {} used, {} rejected{}{}; {} days on or before their customer's first contact ignored; {} customers the history does not list ({} days) not measured.",
            group_of_thousands(n.outcomes.rows),
            group_of_thousands(n.outcomes.used),
            group_of_thousands(n.outcomes.rejected),
            if n.outcomes.other_events > 0 { format!(", {} of other events skipped", group_of_thousands(n.outcomes.other_events)) } else { String::new() },
            if n.outcomes.after_as_of > 0 { format!(", {} after --through", group_of_thousands(n.outcomes.after_as_of)) } else { String::new() },
            group_of_thousands(self.measured.before_contact),
            group_of_thousands(n.unknown_customers),
            group_of_thousands(n.unknown_customer_days)
        );
        if n.imported_contacts + n.service_contacts > 0 {
            let _ = writeln!(
                out,
                "Not measured: {} imported contacts (no arms) and {} service messages (no holdout).",
                group_of_thousands(n.imported_contacts),
                group_of_thousands(n.service_contacts)
            );
        }
        out
    }
}
