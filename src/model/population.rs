//! The "differentiate" declarations that need more than one customer row: where purchase
//! history comes from (`orders`), population scores (`score`), named segments over score cells
//! (`table`) and the BG/NBD + Gamma-Gamma model (`model`).

use super::{Comments, Duration, FieldFormat, Ident, InnerComments, Spanned};
use crate::source::Span;

/// The unit BTYD times are measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Period {
    /// Days; times are whole numbers of days.
    #[default]
    Day,
    /// Seven days; times are fractional (`days / 7`).
    Week,
}

impl Period {
    /// The length of this unit in days (1 or 7).
    pub fn days(self) -> f64 {
        match self {
            Period::Day => 1.0,
            Period::Week => 7.0,
        }
    }

    /// `days` in this unit.
    pub fn of_days(self, days: i64) -> f64 {
        match self {
            Period::Day => days as f64,
            Period::Week => days as f64 / 7.0,
        }
    }
}

/// `orders { ... }`: where each customer's purchase history comes from, as of `as_of`: an
/// orders file (`idic run --orders FILE`) with the columns named here, or totals already in the
/// customer export (`count`, `last`, `spent`, `first` fields). Either or both may be declared;
/// the file wins when it is given.
#[derive(Debug, Clone, PartialEq)]
pub struct Orders {
    /// Columns of the orders file, in the order written.
    pub columns: Vec<OrderColumn>,
    /// Fields of the customer export holding pre-aggregated totals, in the order written.
    pub totals: Vec<OrderTotal>,
    /// The unit of BTYD times (`day` when not given).
    pub period: Option<Spanned<Period>>,
    /// RFM frequency and monetary count only orders this recent (all when not given).
    pub lookback: Option<Spanned<Duration>>,
    /// What happens to orders whose customer has no row in the export.
    pub unmatched: Option<Spanned<UnmatchedOrders>>,
    /// What happens to customers without orders.
    pub without_orders: Option<Spanned<WithoutOrders>>,
    pub span: Span,
    pub comments: Comments,
    /// Comments before each line, keyed by its keyword.
    pub inner: InnerComments,
}

/// `contacts { ... }`: how `idic history import` reads a log of contacts made outside idic
/// (an email service's send log, a call centre's calls): which column holds what.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactLog {
    /// Columns of the log, in the order written.
    pub columns: Vec<ContactColumn>,
    /// One channel for every contact (`channel email`), when no column says it.
    pub channel: Option<Spanned<crate::model::ChannelKind>>,
    pub span: Span,
    pub comments: Comments,
    /// Comments before each line, keyed by its keyword.
    pub inner: InnerComments,
}

impl ContactLog {
    /// The `date` column as a field is read: a date-time (a date alone reads as its midnight)
    /// in the column's format.
    pub fn date_field(&self) -> super::Field {
        let formats = self.column(ContactRole::Date).map(|c| c.formats.clone());
        let format = FieldFormat {
            dates: formats.unwrap_or_default(),
            ..FieldFormat::default()
        };
        super::Field::of_column("date", super::FieldType::DateTime, format)
    }

    /// The column holding `role`, when declared.
    pub fn column(&self, role: ContactRole) -> Option<&ContactColumn> {
        self.columns.iter().find(|c| c.role.value == role)
    }
}

/// A column of a contact log: `date from "Sent At" format "%d/%m/%Y %H:%M"`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactColumn {
    pub role: Spanned<ContactRole>,
    pub column: Spanned<String>,
    /// The date formats (for `date`), tried in order.
    pub formats: Vec<Spanned<String>>,
    pub span: Span,
    pub comments: Comments,
}

/// What a column of a contact log holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactRole {
    /// The customer id, as the export's key holds it.
    Customer,
    /// When the contact was made: a date or a date-time (its date is kept).
    Date,
    /// The channel word (`email`, `sms`... in any case).
    Channel,
    /// The trigger or campaign (optional): a trigger of the rule set counts for its cooldown.
    Trigger,
    /// The action or template (optional).
    Action,
}

/// A column of the orders file: `date from "Order Date" format "%Y%m%d"`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderColumn {
    pub role: Spanned<OrderRole>,
    pub column: Spanned<String>,
    /// Date format, currency symbol, thousands separator (the others do not apply).
    pub format: FieldFormat,
    pub span: Span,
    pub comments: Comments,
}

/// What a column of the orders file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderRole {
    /// The customer id, matched against the export's key field.
    Customer,
    /// The order's date or datetime.
    Date,
    /// The order's amount.
    Amount,
    /// Items in the order (optional).
    Quantity,
}

/// A field of the customer export holding a pre-aggregated total: `count orders`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderTotal {
    pub kind: Spanned<TotalKind>,
    /// The field (of the `customer` block).
    pub field: Ident,
    pub span: Span,
    pub comments: Comments,
}

/// Which total a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TotalKind {
    /// Number of orders (int).
    Count,
    /// Date of the first order (date), for the BTYD ages.
    First,
    /// Date of the last order (date).
    Last,
    /// Amount spent in all (money or decimal).
    Spent,
}

/// `unmatched_orders`: orders of customers the export does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnmatchedOrders {
    /// Counted and reported in the summary (the default).
    #[default]
    Count,
    /// The run stops with an error.
    Fail,
}

/// `customers_without_orders`: customers the orders file has nothing for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WithoutOrders {
    /// Decided, with zero frequency and monetary and missing recency (the default).
    #[default]
    Keep,
    /// Rejected with the reason "no orders".
    Reject,
}

/// `score r = rfm_recency_days bins 5 reverse`: a population score 1..=bins of an order
/// variable or a numeric field, by quantiles over all scored customers (or fixed edges).
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub name: Ident,
    /// The variable scored: an order variable or a numeric field.
    pub source: Ident,
    /// The number of bins, 3 to 10 (5 when not given).
    pub bins: Option<Spanned<u32>>,
    /// The lowest values get the top score (recency).
    pub reverse: bool,
    /// How equal values are split (`together` when not given).
    pub ties: Option<Spanned<Ties>>,
    /// Fixed (frozen) edges, `bins - 1` of them, lowest first.
    pub edges: Option<Spanned<Vec<f64>>>,
    pub span: Span,
    pub comments: Comments,
}

/// How a score treats equal values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ties {
    /// Equal values always share a bin.
    Together,
    /// Rank quantiles, ties ordered by a hash of the salt and the customer id.
    Hash(String),
}

/// `table name over r, f { ... }` or `table name over r, f preset rfm10`: a named segment per
/// customer, the first rule whose score ranges hold (R, F and optionally M axes, in `over`
/// order).
#[derive(Debug, Clone, PartialEq)]
pub struct CellTable {
    pub name: Ident,
    /// The scores of the axes: R, F and optionally M.
    pub over: Vec<Ident>,
    pub body: TableBody,
    pub span: Span,
    pub comments: Comments,
    pub inner: InnerComments,
}

/// A table's rules: a shipped preset or written out.
#[derive(Debug, Clone, PartialEq)]
pub enum TableBody {
    Preset(Ident),
    Rules(Vec<CellRule>),
}

/// `champions r 4..5 f 4..5`: a segment name and a score range per axis it restricts (an axis
/// not named takes every score).
#[derive(Debug, Clone, PartialEq)]
pub struct CellRule {
    pub name: Ident,
    pub ranges: Vec<CellRange>,
    pub span: Span,
    pub comments: Comments,
}

/// `f 4..5`: a score and the range of it a rule takes.
#[derive(Debug, Clone, PartialEq)]
pub struct CellRange {
    pub score: Ident,
    pub range: Spanned<(u8, u8)>,
}

/// `model { horizon 12m discount 1% }`: BG/NBD and Gamma-Gamma, fitted on the population during
/// the run (or pinned), giving every customer `p_alive`, `expected_purchases` and `model_clv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The horizon of `expected_purchases` and `model_clv`.
    pub horizon: Option<Spanned<Duration>>,
    /// The monthly discount rate of `model_clv`, in percent.
    pub discount: Option<Spanned<f64>>,
    /// Pinned BG/NBD parameters (r, alpha, a, b): no fitting.
    pub bgnbd: Option<Spanned<[f64; 4]>>,
    /// Pinned Gamma-Gamma parameters (p, q, gamma): no fitting.
    pub gamma_gamma: Option<Spanned<[f64; 3]>>,
    pub span: Span,
    pub comments: Comments,
    pub inner: InnerComments,
}

/// Parameter names of the pinned models, as written.
pub const BGNBD_PARAMS: [&str; 4] = ["r", "alpha", "a", "b"];
pub const GAMMA_GAMMA_PARAMS: [&str; 3] = ["p", "q", "gamma"];

macro_rules! words {
    ($ty:ident, $what:literal, $($variant:ident => $word:literal),+ $(,)?) => {
        impl $ty {
            /// Every word, in declaration order.
            pub const WORDS: &'static [&'static str] = &[$($word),+];

            /// The word it is written as.
            pub fn word(self) -> &'static str {
                match self { $($ty::$variant => $word),+ }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($word => Ok($ty::$variant),)+
                    _ => Err(format!(
                        "`{s}` is not {}: expected {}",
                        $what,
                        Self::WORDS.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.word())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.word())
            }
        }
    };
}
pub(crate) use words;

words!(OrderRole, "an orders column", Customer => "customer", Date => "date", Amount => "amount", Quantity => "quantity");
words!(ContactRole, "a contacts column", Customer => "customer", Date => "date", Channel => "channel", Trigger => "trigger", Action => "action");
words!(TotalKind, "an order total", Count => "count", First => "first", Last => "last", Spent => "spent");
words!(UnmatchedOrders, "a policy for unmatched orders", Count => "count", Fail => "fail");
words!(WithoutOrders, "a policy for customers without orders", Keep => "keep", Reject => "reject");
words!(Period, "a period", Day => "day", Week => "week");

impl Orders {
    /// An `orders` block at `span` that declares nothing yet.
    pub fn empty(span: Span) -> Orders {
        Orders {
            columns: Vec::new(),
            totals: Vec::new(),
            period: None,
            lookback: None,
            unmatched: None,
            without_orders: None,
            span,
            comments: Comments::default(),
            inner: InnerComments::default(),
        }
    }
    /// The column declared for a role, if any.
    pub fn column(&self, role: OrderRole) -> Option<&OrderColumn> {
        self.columns.iter().find(|c| c.role.value == role)
    }

    /// The field declared for a total, if any.
    pub fn total(&self, kind: TotalKind) -> Option<&OrderTotal> {
        self.totals.iter().find(|t| t.kind.value == kind)
    }

    /// True when it says how to read an orders file (customer, date and amount columns).
    pub fn reads_file(&self) -> bool {
        [OrderRole::Customer, OrderRole::Date, OrderRole::Amount]
            .iter()
            .all(|&r| self.column(r).is_some())
    }

    /// True when it names export fields holding totals (at least count, last and spent).
    pub fn has_totals(&self) -> bool {
        [TotalKind::Count, TotalKind::Last, TotalKind::Spent]
            .iter()
            .all(|&k| self.total(k).is_some())
    }
}

/// A variable a population block gives every customer: its name and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Given {
    pub name: &'static str,
    pub ty: super::FieldType,
}

const fn given(name: &'static str, ty: super::FieldType) -> Given {
    Given { name, ty }
}

/// The variables an `orders` block gives every customer, RFM and BTYD named apart.
pub const ORDER_VARIABLES: [Given; 7] = {
    use super::FieldType::{Decimal, Int, Money};
    [
        // Days since the last order (missing without orders).
        given("rfm_recency_days", Int),
        // Order days in the lookback window.
        given("rfm_frequency", Int),
        // Amount spent in the lookback window.
        given("rfm_monetary", Money),
        // Repeat order days (order days - 1).
        given("btyd_frequency", Decimal),
        // Age at the last order, in periods (last - first order).
        given("btyd_recency", Decimal),
        // Age at as_of, in periods (as_of - first order).
        given("btyd_T", Decimal),
        // Mean amount of the repeat order days.
        given("btyd_monetary_value", Decimal),
    ]
};

/// The variables a `model` block gives every customer.
pub const MODEL_VARIABLES: [Given; 3] = {
    use super::FieldType::Decimal;
    [
        // Probability the customer is still active (BG/NBD).
        given("p_alive", Decimal),
        // Purchases expected over the horizon (BG/NBD).
        given("expected_purchases", Decimal),
        // Value over the horizon, discounted monthly (BG/NBD + Gamma-Gamma).
        given("model_clv", Decimal),
    ]
};

/// Where a population variable comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The `orders` block (RFM and BTYD summaries).
    Orders,
    /// A `score`.
    Score,
    /// A `table` over score cells.
    Table,
    /// The `model` block.
    Model,
}

impl Origin {
    /// What a variable of this origin is called, in messages.
    pub fn word(self) -> &'static str {
        match self {
            Origin::Orders => "order variable",
            Origin::Score => "score",
            Origin::Table => "table",
            Origin::Model => "model variable",
        }
    }
}

/// A variable computed from the whole population before any customer is decided: readable by
/// metrics, segments, tiers, stages, triggers and parameters like a field.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationVariable {
    pub name: String,
    pub origin: Origin,
    /// Its type, as a field's.
    pub ty: super::FieldType,
    /// Where it is declared.
    pub span: Span,
}

impl super::RuleSet {
    /// The population variables as optional fields named like them (column = name): what a
    /// test's customer may give values for besides the schema's fields.
    pub fn population_fields(&self) -> Vec<super::Field> {
        self.population_variables()
            .into_iter()
            .map(|v| super::Field {
                name: Spanned::new(v.name.clone(), v.span),
                ty: Spanned::new(v.ty, v.span),
                column: Spanned::new(v.name, v.span),
                optional: true,
                key: false,
                default: None,
                format: FieldFormat::default(),
                span: v.span,
                comments: Comments::default(),
            })
            .collect()
    }

    /// The population variables, in slot order: order variables, scores, tables, model
    /// variables.
    pub fn population_variables(&self) -> Vec<PopulationVariable> {
        use super::FieldType;
        let var = |name: &str, origin, ty, span| PopulationVariable {
            name: name.to_string(),
            origin,
            ty,
            span,
        };
        let mut out = Vec::new();
        if let Some(o) = &self.orders {
            for v in ORDER_VARIABLES {
                out.push(var(v.name, Origin::Orders, v.ty, o.span));
            }
        }
        for s in &self.scores {
            out.push(var(
                &s.name.value,
                Origin::Score,
                FieldType::Int,
                s.name.span,
            ));
        }
        for t in &self.tables {
            out.push(var(
                &t.name.value,
                Origin::Table,
                FieldType::String,
                t.name.span,
            ));
        }
        if let Some(m) = &self.model {
            for v in MODEL_VARIABLES {
                out.push(var(v.name, Origin::Model, v.ty, m.span));
            }
        }
        out
    }
}
