-- The retail rule set (rules/retail/retail.idic) as the one SQL query a data-savvy marketer
-- would write for DuckDB: each customer's tier, lifecycle stage, segments (in the rules'
-- order) and the triggers whose condition holds (consent, holdouts, caps and arbitration
-- aside: idic lists those triggers as fired or suppressed). `{export}` and `{as_of}` are
-- filled in by benches/duckdb_query.py.
--
-- idic's conventions, written out: a comparison with a missing value is false (hence the
-- `coalesce(..., false)`), `??` is `coalesce`, `tenure / orders` on whole numbers is `//`.
WITH typed AS (
  SELECT
    "Customer ID" AS id,
    CAST("Signup Date" AS DATE) AS signup,
    CAST(strptime(NULLIF(trim("Last Order Date"), ''), '%d/%m/%Y') AS DATE) AS last_order,
    coalesce(CAST(NULLIF(trim("Total Orders"), '') AS BIGINT), 0) AS orders,
    CAST(replace(replace(trim("Total Spent"), '$', ''), ',', '') AS DECIMAL(18, 2)) AS spent,
    NULLIF(trim("Phone"), '') AS phone,
    list_transform(string_split(NULLIF(trim("Tags"), ''), ';'), lambda t: trim(t)) AS tags,
    CAST(NULLIF(trim("Last NPS"), '') AS BIGINT) AS nps,
    coalesce(CAST(NULLIF(trim("Open Support Tickets"), '') AS BIGINT), 0) AS open_tickets
  FROM read_csv('{export}', header = true, all_varchar = true)
), metrics AS (
  SELECT *,
    date_diff('day', last_order, DATE '{as_of}') AS recency,
    date_diff('day', signup, DATE '{as_of}') AS tenure
  FROM typed
), segments AS (
  SELECT *,
    tenure <= 30 AS new_customers,
    orders = 1 AS one_time_buyers,
    coalesce(orders >= 4 AND recency <= 90, false) AS loyal,
    spent >= 1500 AS big_spenders,
    coalesce(list_contains(tags, 'vip'), false) AS vip,
    coalesce(orders >= 2 AND recency > 90 AND recency <= 365, false) AS at_risk,
    coalesce(orders >= 1 AND recency > 365, false) AS lapsed,
    coalesce(nps, 10) <= 6 OR open_tickets > 0 AS unhappy,
    CASE WHEN orders > 0 THEN tenure // orders ELSE 0 END AS usual_gap
  FROM metrics
), tiered AS (
  SELECT *,
    loyal AND (big_spenders OR vip) AS champions,
    CASE
      WHEN big_spenders OR (vip AND spent >= 1000) THEN 'platinum'
      WHEN spent >= 600 OR orders >= 12 THEN 'gold'
      WHEN spent >= 150 OR orders >= 4 THEN 'silver'
      ELSE 'bronze'
    END AS tier,
    CASE
      WHEN orders = 0 THEN 'prospect'
      WHEN orders = 1 AND coalesce(recency, 0) <= 30 THEN 'new'
      WHEN coalesce(recency, 0) > 180 THEN 'lapsed'
      WHEN coalesce(recency, 0) > 2 * usual_gap THEN 'at_risk'
      ELSE 'active'
    END AS stage
  FROM segments
)
SELECT
  id,
  tier,
  stage,
  list_filter([
    CASE WHEN new_customers THEN 'new_customers' END,
    CASE WHEN one_time_buyers THEN 'one_time_buyers' END,
    CASE WHEN loyal THEN 'loyal' END,
    CASE WHEN big_spenders THEN 'big_spenders' END,
    CASE WHEN vip THEN 'vip' END,
    CASE WHEN at_risk THEN 'at_risk' END,
    CASE WHEN lapsed THEN 'lapsed' END,
    CASE WHEN unhappy THEN 'unhappy' END,
    CASE WHEN champions THEN 'champions' END
  ], lambda s: s IS NOT NULL) AS segments,
  list_filter([
    CASE WHEN unhappy AND tier IN ('platinum', 'gold') AND phone IS NOT NULL
      THEN 'service_call' END,
    CASE WHEN unhappy THEN 'service_email' END,
    CASE WHEN at_risk AND tier <> 'bronze' AND NOT unhappy THEN 'retention_save' END,
    CASE WHEN new_customers THEN 'welcome_new' END,
    CASE WHEN champions AND NOT unhappy THEN 'champion_early_access' END,
    CASE WHEN loyal AND tier <> 'platinum' AND NOT unhappy THEN 'upsell_next_tier' END,
    CASE WHEN one_time_buyers AND coalesce(recency >= 21 AND recency <= 120, false)
      AND NOT unhappy THEN 'second_order_nudge' END,
    CASE WHEN lapsed AND NOT unhappy THEN 'winback_lapsed' END
  ], lambda t: t IS NOT NULL) AS triggers
FROM tiered
