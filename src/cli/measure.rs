//! `idic measure plan`: how many customers a holdout needs to show an effect.

use super::Exit;
use idic::analytics::effect;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
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
    let Command::Plan(plan) = args.command;
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
    match plan.format {
        PlanFormat::Text => {
            let group = |n: u64| idic::batch::summary::group(n);
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
            });
            super::out(&format!("{json}\n"));
        }
    }
    Exit::Ok
}
