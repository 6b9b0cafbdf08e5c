//! Routing: picks the queue of each enriched mention.
//!
//! Design:
//! - **Rules first, taxonomy second.** `route.rules` is an ordered list of
//!   `{name, when, queue}`; the first rule whose `when` is true for a row
//!   wins. A row no rule takes gets the default queue (below) and the rule
//!   name `default`.
//! - **`when` is a SQL predicate** (DataFusion's SQL dialect) over the
//!   [enriched mention schema](crate::schema::enriched_mention_schema). It is
//!   parsed and planned **once**, in [`Router::new`], into a vectorised
//!   DataFusion `PhysicalExpr`, and evaluated per batch, rule by rule, on the
//!   rows no earlier rule took. A null result is "no match" (SQL `WHERE`
//!   semantics), so `customer.vulnerable` on an unidentified mention is
//!   simply false.
//! - **Names.** Every enriched column can be named as is (`severity`,
//!   `category`, `priority`, `channel`, `sentiment_compound`, `language`,
//!   `customer_segment`, `incident_id`, …). Columns with the prefixes
//!   `customer_`, `author_`, `identity_`, `sentiment_` can also be written
//!   dotted: `customer.segment`, `customer.vulnerable`, `author.followers`,
//!   `identity.matched`, `sentiment.compound` (the rules see extra columns
//!   qualified `customer`, `author`, … that alias the same arrays; a bare
//!   `segment` also resolves to `customer.segment`). SQL identifiers are
//!   case-insensitive (lower-cased); string literals are not.
//! - **Compile errors** (syntax, unknown column, aggregate, non-boolean type)
//!   are [`OperatorError::Config`] with key `route.rules[i].when` and a
//!   reason that starts with the rule's name, so `check-config` names it.
//! - **Missing columns.** A batch need not carry every enriched column: an
//!   absent column is evaluated as all-null (e.g. no identity join → every
//!   `customer.*` is null), a column of another type is cast to the enriched
//!   type (an impossible cast is an input error).
//! - **Functions.** The operators crate builds DataFusion without its
//!   optional function packages, so string functions such as `lower()` are
//!   not available; operators (`=`, `<>`, `<`, `IN`, `LIKE`, `ILIKE`,
//!   `IS NULL`, `AND`/`OR`/`NOT`, `CASE`, arithmetic) are.
//! - **Default queue** of a row, from its `category` (SPEC "Default
//!   taxonomy", table [`RouteConfig::default_queues`]), in this order:
//!   1. a category in `incident_categories` (`network_outage`) with a
//!      non-null `incident_id` → `incident_queue` (`network-operations`);
//!   2. a `customer_segment` in `wholesale_segments` (`wholesale`) with a
//!      category in `wholesale_fault_categories` (`network_outage`,
//!      `broadband_fault`, `engineer_appointment`) → `wholesale_queue`
//!      (`wholesale-liaison`);
//!   3. the category's entry in `default_queues`; a null or unknown
//!      category → `fallback_queue` (`social-engagement`).
//!
//!   An incident beats the wholesale rule: an outage spike is one job for
//!   network operations whoever reports it.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNode;
use datafusion::common::{DFSchema, TableReference};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use crate::classify::{append_columns, check_category, Category, StrColumn};
use crate::error::{config_err, OperatorError, Result};
use crate::schema::{correlate_col, enriched_mention_schema};

/// Names of the columns appended by [`Router::route_batch`].
pub mod col {
    /// The queue the mention goes to. Utf8, never null.
    pub const QUEUE: &str = "queue";
    /// The name of the rule that matched, or [`super::DEFAULT_RULE`]. Utf8, never null.
    pub const ROUTE_RULE: &str = "route_rule";
}

/// The [`col::ROUTE_RULE`] value of a row routed by the default taxonomy.
pub const DEFAULT_RULE: &str = "default";

/// Column-name prefixes that can also be written dotted (`customer.segment`).
pub const QUALIFIED_PREFIXES: [&str; 4] = ["customer", "author", "identity", "sentiment"];

/// One routing rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// Unique name, written to [`col::ROUTE_RULE`] and named in errors
    /// (not empty, not `default`).
    pub name: String,
    /// SQL predicate over the enriched mention, e.g.
    /// `severity = 'P1' AND customer.vulnerable`.
    pub when: String,
    /// Queue of the rows the rule takes.
    pub queue: String,
}

/// Routing settings (the `[route]` config section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    /// Rules in priority order; the first match wins. Empty by default.
    pub rules: Vec<RouteRule>,
    /// Queue per category label (the SPEC's default taxonomy). Entries given
    /// in a config override those of the SPEC table; categories not listed
    /// keep their SPEC queue.
    pub default_queues: BTreeMap<String, String>,
    /// Queue of a mention whose category is null or not a taxonomy label.
    pub fallback_queue: String,
    /// Queue of a mention that is part of an incident (non-null `incident_id`)
    /// and has a category in `incident_categories`.
    pub incident_queue: String,
    /// Categories that go to `incident_queue` when part of an incident.
    pub incident_categories: Vec<String>,
    /// Queue of faults reported by customers of a `wholesale_segments` segment.
    pub wholesale_queue: String,
    /// Customer segments (`customer_segment`) routed to `wholesale_queue` for faults.
    pub wholesale_segments: Vec<String>,
    /// Categories that count as faults for wholesale routing.
    pub wholesale_fault_categories: Vec<String>,
}

/// The SPEC's default taxonomy: category → queue.
pub fn spec_default_queues() -> BTreeMap<String, String> {
    use Category::*;
    [
        (NetworkOutage, "technical-support"),
        (BroadbandFault, "technical-support"),
        (EngineerAppointment, "field-service"),
        (Billing, "billing"),
        (AccountAccess, "account-support"),
        (SwitchingCancellation, "retention"),
        (Delivery, "orders-delivery"),
        (ComplaintEscalation, "complaints-escalation"),
        (Praise, "social-engagement"),
        (GeneralEnquiry, "social-engagement"),
    ]
    .into_iter()
    .map(|(c, q)| (c.as_str().to_owned(), q.to_owned()))
    .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Default for RouteConfig {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            default_queues: spec_default_queues(),
            fallback_queue: "social-engagement".into(),
            incident_queue: "network-operations".into(),
            incident_categories: strings(&["network_outage"]),
            wholesale_queue: "wholesale-liaison".into(),
            wholesale_segments: strings(&["wholesale"]),
            wholesale_fault_categories: strings(&[
                "network_outage",
                "broadband_fault",
                "engineer_appointment",
            ]),
        }
    }
}

fn check_queue(key: String, q: &str) -> Result<()> {
    if q.trim().is_empty() || q.chars().any(char::is_whitespace) {
        return Err(config_err(
            key,
            format!("`{q}` is not a queue name (not empty, no spaces)"),
        ));
    }
    Ok(())
}

/// A compiled rule.
#[derive(Debug, Clone)]
struct Compiled {
    name: Arc<str>,
    queue: Arc<str>,
    expr: Arc<dyn PhysicalExpr>,
}

/// The schema rules are evaluated against: the enriched schema with every
/// field nullable, plus the dotted aliases, and the qualifier of each field.
struct RuleSchema {
    arrow: SchemaRef,
    df: DFSchema,
    /// For each field of `arrow`, the index of the enriched column it reads.
    source: Vec<usize>,
}

fn rule_schema() -> Result<RuleSchema> {
    let enriched = enriched_mention_schema();
    let mut fields: Vec<Field> = Vec::new();
    let mut qualifiers: Vec<Option<TableReference>> = Vec::new();
    let mut source = Vec::new();
    for (i, f) in enriched.fields().iter().enumerate() {
        fields.push(f.as_ref().clone().with_nullable(true));
        qualifiers.push(None);
        source.push(i);
    }
    for (i, f) in enriched.fields().iter().enumerate() {
        for prefix in QUALIFIED_PREFIXES {
            if let Some(rest) = f
                .name()
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('_'))
            {
                fields.push(Field::new(rest, f.data_type().clone(), true));
                qualifiers.push(Some(TableReference::bare(prefix)));
                source.push(i);
            }
        }
    }
    let arrow: SchemaRef = Arc::new(Schema::new(fields));
    let df = DFSchema::from_field_specific_qualified_schema(qualifiers, &arrow)
        .map_err(|e| OperatorError::Input(format!("rule schema: {e}")))?;
    Ok(RuleSchema { arrow, df, source })
}

/// DataFusion's message, first line, without the list of every valid field.
fn df_reason(e: &datafusion::error::DataFusionError) -> String {
    let s = e.to_string();
    let mut s = s.lines().next().unwrap_or("").to_owned();
    if let Some(i) = s.find(". Valid fields are") {
        s.truncate(i);
    }
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// The routing operator. Cheap to share (`&self` everywhere).
#[derive(Debug, Clone)]
pub struct Router {
    rules: Arc<[Compiled]>,
    schema: SchemaRef,
    source: Arc<[usize]>,
    /// Per [`Category::index`].
    default_queue: Arc<[Arc<str>; 10]>,
    incident: [bool; 10],
    wholesale_fault: [bool; 10],
    fallback_queue: Arc<str>,
    incident_queue: Arc<str>,
    wholesale_queue: Arc<str>,
    wholesale_segments: Arc<[String]>,
}

impl Router {
    /// Validates the config and compiles every rule. Errors name the key
    /// (`route.rules[2].when`) and, for rules, start with the rule's name.
    pub fn new(config: &RouteConfig) -> Result<Self> {
        let rs = rule_schema()?;
        let ctx = SessionContext::new();
        let mut names = HashSet::new();
        let mut rules = Vec::with_capacity(config.rules.len());
        for (i, r) in config.rules.iter().enumerate() {
            let key = |field: &str| format!("route.rules[{i}].{field}");
            if r.name.trim().is_empty() {
                return Err(config_err(key("name"), "must not be empty"));
            }
            if r.name == DEFAULT_RULE {
                return Err(config_err(
                    key("name"),
                    format!("`{DEFAULT_RULE}` is reserved for the taxonomy default"),
                ));
            }
            if !names.insert(r.name.as_str()) {
                return Err(config_err(
                    key("name"),
                    format!("duplicate rule name `{}`", r.name),
                ));
            }
            check_queue(key("queue"), &r.queue)?;
            let expr = compile(&ctx, &rs, &r.when).map_err(|reason| {
                config_err(key("when"), format!("rule `{}`: {reason}", r.name))
            })?;
            rules.push(Compiled {
                name: r.name.as_str().into(),
                queue: r.queue.as_str().into(),
                expr,
            });
        }

        let mut queues = spec_default_queues();
        for (label, q) in &config.default_queues {
            check_category(format!("route.default_queues.{label}"), label)?;
            check_queue(format!("route.default_queues.{label}"), q)?;
            queues.insert(label.clone(), q.clone());
        }
        let default_queue: [Arc<str>; 10] =
            std::array::from_fn(|i| queues[Category::ALL[i].as_str()].as_str().into());
        let flags = |key: &str, list: &[String]| -> Result<[bool; 10]> {
            let mut out = [false; 10];
            for (i, label) in list.iter().enumerate() {
                out[check_category(format!("route.{key}[{i}]"), label)?.index()] = true;
            }
            Ok(out)
        };
        let incident = flags("incident_categories", &config.incident_categories)?;
        let wholesale_fault = flags(
            "wholesale_fault_categories",
            &config.wholesale_fault_categories,
        )?;
        check_queue("route.fallback_queue".into(), &config.fallback_queue)?;
        check_queue("route.incident_queue".into(), &config.incident_queue)?;
        check_queue("route.wholesale_queue".into(), &config.wholesale_queue)?;
        Ok(Self {
            rules: rules.into(),
            schema: rs.arrow,
            source: rs.source.into(),
            default_queue: Arc::new(default_queue),
            incident,
            wholesale_fault,
            fallback_queue: config.fallback_queue.as_str().into(),
            incident_queue: config.incident_queue.as_str().into(),
            wholesale_queue: config.wholesale_queue.as_str().into(),
            wholesale_segments: config.wholesale_segments.clone().into(),
        })
    }

    /// Names of the compiled rules, in order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| &*r.name)
    }

    /// The taxonomy default queue for a row's category, incident id and
    /// customer segment (see the module doc for the order).
    pub fn default_queue(
        &self,
        category: Option<&str>,
        incident_id: Option<&str>,
        segment: Option<&str>,
    ) -> &str {
        let Some(cat) = category.and_then(Category::parse) else {
            return &self.fallback_queue;
        };
        if incident_id.is_some() && self.incident[cat.index()] {
            return &self.incident_queue;
        }
        if self.wholesale_fault[cat.index()]
            && segment.is_some_and(|s| self.wholesale_segments.iter().any(|w| w == s))
        {
            return &self.wholesale_queue;
        }
        &self.default_queue[cat.index()]
    }

    /// The batch the rules read: the enriched columns in schema order (absent
    /// ones all-null, others cast to the enriched type) plus the aliases.
    fn rule_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let n = batch.num_rows();
        let enriched = enriched_mention_schema();
        let mut base: Vec<ArrayRef> = Vec::with_capacity(enriched.fields().len());
        for f in enriched.fields() {
            let a = match batch.column_by_name(f.name()) {
                None => arrow::array::new_null_array(f.data_type(), n),
                Some(a) if a.data_type() == f.data_type() => a.clone(),
                Some(a) => arrow::compute::cast(a, f.data_type()).map_err(|e| {
                    OperatorError::Input(format!(
                        "column `{}` of type {} cannot be read as {}: {e}",
                        f.name(),
                        a.data_type(),
                        f.data_type()
                    ))
                })?,
            };
            base.push(a);
        }
        let columns = self.source.iter().map(|&i| base[i].clone()).collect();
        let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(n));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &options,
        )?)
    }

    /// Appends [`col::QUEUE`] and [`col::ROUTE_RULE`] (replacing same-named
    /// columns). Reads `category`, `incident_id` and `customer_segment` for
    /// the default queue and whatever the rules name; absent columns are null.
    pub fn route_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let n = batch.num_rows();
        // Index of the matching rule per row; `usize::MAX` = none yet.
        let mut chosen = vec![usize::MAX; n];
        if !self.rules.is_empty() && n > 0 {
            let rb = self.rule_batch(batch)?;
            let mut open = n;
            for (k, rule) in self.rules.iter().enumerate() {
                if open == 0 {
                    break;
                }
                let value = rule
                    .expr
                    .evaluate(&rb)
                    .and_then(|v| v.into_array(n))
                    .map_err(|e| {
                        OperatorError::Input(format!(
                            "route rule `{}`: {}",
                            rule.name,
                            df_reason(&e)
                        ))
                    })?;
                let hits: &BooleanArray = value.as_boolean_opt().ok_or_else(|| {
                    OperatorError::Input(format!("route rule `{}` is not boolean", rule.name))
                })?;
                for (i, c) in chosen.iter_mut().enumerate() {
                    if *c == usize::MAX && hits.is_valid(i) && hits.value(i) {
                        *c = k;
                        open -= 1;
                    }
                }
            }
        }
        let category = StrColumn::opt(batch, crate::classify::col::CATEGORY)?;
        let incident = StrColumn::opt(batch, correlate_col::INCIDENT_ID)?;
        let segment = StrColumn::opt(batch, crate::identity_join::col::CUSTOMER_SEGMENT)?;
        fn get<'a>(c: &Option<StrColumn<'a>>, i: usize) -> Option<&'a str> {
            c.as_ref().and_then(|c| c.value(i))
        }
        let mut queue_b = StringBuilder::with_capacity(n, n * 16);
        let mut rule_b = StringBuilder::with_capacity(n, n * 8);
        for (i, &c) in chosen.iter().enumerate() {
            if let Some(rule) = self.rules.get(c) {
                queue_b.append_value(&*rule.queue);
                rule_b.append_value(&*rule.name);
            } else {
                queue_b.append_value(self.default_queue(
                    get(&category, i),
                    get(&incident, i),
                    get(&segment, i),
                ));
                rule_b.append_value(DEFAULT_RULE);
            }
        }
        append_columns(
            batch,
            vec![
                (
                    Field::new(col::QUEUE, DataType::Utf8, false),
                    Arc::new(queue_b.finish()) as ArrayRef,
                ),
                (
                    Field::new(col::ROUTE_RULE, DataType::Utf8, false),
                    Arc::new(rule_b.finish()) as ArrayRef,
                ),
            ],
        )
    }
}

/// Parses and plans one predicate; the error is the reason text.
fn compile(
    ctx: &SessionContext,
    rs: &RuleSchema,
    when: &str,
) -> std::result::Result<Arc<dyn PhysicalExpr>, String> {
    if when.trim().is_empty() {
        return Err("empty predicate".into());
    }
    let logical = ctx
        .parse_sql_expr(when, &rs.df)
        .map_err(|e| df_reason(&e))?;
    let aggregate = logical
        .exists(|e| {
            Ok(matches!(
                e,
                Expr::AggregateFunction(_) | Expr::WindowFunction(_) | Expr::ScalarSubquery(_)
            ))
        })
        .unwrap_or(false);
    if aggregate {
        return Err("aggregate, window functions and subqueries are not allowed in a rule".into());
    }
    let physical = ctx
        .create_physical_expr(logical, &rs.df)
        .map_err(|e| df_reason(&e))?;
    let ty = physical
        .data_type(rs.arrow.as_ref())
        .map_err(|e| df_reason(&e))?;
    if ty != DataType::Boolean {
        return Err(format!("predicate has type {ty}, expected a boolean"));
    }
    Ok(physical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{StringArray, UInt8Array};

    /// A batch with the given optional string columns (and `priority` if given).
    fn batch(cols: &[(&str, Vec<Option<&str>>)], priority: Option<Vec<u8>>) -> RecordBatch {
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for (name, values) in cols {
            if *name == crate::identity_join::col::CUSTOMER_VULNERABLE {
                let v: Vec<Option<bool>> = values.iter().map(|v| v.map(|s| s == "true")).collect();
                fields.push(Field::new(*name, DataType::Boolean, true));
                arrays.push(Arc::new(BooleanArray::from(v)));
            } else {
                fields.push(Field::new(*name, DataType::Utf8, true));
                arrays.push(Arc::new(StringArray::from(values.clone())));
            }
        }
        if let Some(p) = priority {
            fields.push(Field::new("priority", DataType::UInt8, false));
            arrays.push(Arc::new(UInt8Array::from(p)));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
    }

    fn rule(name: &str, when: &str, queue: &str) -> RouteRule {
        RouteRule {
            name: name.into(),
            when: when.into(),
            queue: queue.into(),
        }
    }

    fn router(rules: Vec<RouteRule>) -> Router {
        Router::new(&RouteConfig {
            rules,
            ..Default::default()
        })
        .unwrap()
    }

    fn routed(r: &Router, b: &RecordBatch) -> Vec<(String, String)> {
        let out = r.route_batch(b).unwrap();
        let q = out.column_by_name(col::QUEUE).unwrap().as_string::<i32>();
        let n = out
            .column_by_name(col::ROUTE_RULE)
            .unwrap()
            .as_string::<i32>();
        (0..out.num_rows())
            .map(|i| (q.value(i).to_owned(), n.value(i).to_owned()))
            .collect()
    }

    fn pair(q: &str, r: &str) -> (String, String) {
        (q.to_owned(), r.to_owned())
    }

    #[test]
    fn wholesale_rule_with_dotted_name() {
        let r = router(vec![rule(
            "wholesale",
            "customer.segment = 'wholesale'",
            "wholesale-liaison",
        )]);
        let b = batch(
            &[
                ("category", vec![Some("billing"), Some("billing")]),
                (
                    "customer_segment",
                    vec![Some("wholesale"), Some("consumer")],
                ),
            ],
            None,
        );
        assert_eq!(
            routed(&r, &b),
            [
                pair("wholesale-liaison", "wholesale"),
                pair("billing", "default")
            ]
        );
    }

    #[test]
    fn p1_vulnerable_rule_and_first_match_wins() {
        let r = router(vec![
            rule(
                "vulnerable-p1",
                "severity = 'P1' AND customer.vulnerable",
                "priority-care",
            ),
            rule("any-p1", "severity = 'P1'", "triage"),
            rule("high", "priority >= 50", "high-queue"),
        ]);
        let b = batch(
            &[
                (
                    "category",
                    vec![
                        Some("broadband_fault"),
                        Some("billing"),
                        Some("billing"),
                        None,
                    ],
                ),
                (
                    "severity",
                    vec![Some("P1"), Some("P1"), Some("P2"), Some("P4")],
                ),
                (
                    "customer_vulnerable",
                    vec![Some("true"), None, Some("true"), None],
                ),
            ],
            Some(vec![90, 80, 55, 0]),
        );
        assert_eq!(
            routed(&r, &b),
            [
                pair("priority-care", "vulnerable-p1"),
                pair("triage", "any-p1"),
                pair("high-queue", "high"),
                pair("social-engagement", "default"),
            ]
        );
    }

    #[test]
    fn plain_and_other_dotted_names_compile() {
        for when in [
            "customer_segment = 'business' OR customer.tier = 'premier'",
            "author.followers > 10000 AND author.verified",
            "identity.matched AND sentiment.compound < -0.5",
            "channel IN ('twitter', 'facebook') AND language = 'en'",
            "category LIKE '%fault' AND incident_id IS NULL",
            "event_time > '2026-01-01T00:00:00Z' AND NOT is_retweet",
            "CASE WHEN priority > 50 THEN true ELSE false END",
            "segment = 'wholesale'",
        ] {
            Router::new(&RouteConfig {
                rules: vec![rule("r", when, "q")],
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("{when}: {e}"));
        }
    }

    #[test]
    fn bad_predicates_name_the_rule() {
        for (when, needle) in [
            ("severity = = 'P1'", ""),
            ("customer.shoe_size > 3", "shoe_size"),
            ("no_such_column", "no_such_column"),
            ("priority + 1", "expected a boolean"),
            ("category", "expected a boolean"),
            ("count(*) > 1", "aggregate"),
            ("priority > (SELECT 1)", ""),
            ("   ", "empty"),
        ] {
            let err = Router::new(&RouteConfig {
                rules: vec![rule("ok", "true", "q"), rule("broken-rule", when, "q")],
                ..Default::default()
            })
            .unwrap_err();
            let OperatorError::Config { key, reason } = err else {
                panic!("{when}: {err:?}")
            };
            assert_eq!(key, "route.rules[1].when", "{when}");
            assert!(
                reason.starts_with("rule `broken-rule`: "),
                "{when}: {reason}"
            );
            assert!(reason.contains(needle), "{when}: {reason}");
            assert!(!reason.contains("Valid fields"), "{reason}");
        }
    }

    #[test]
    fn config_errors_name_the_key() {
        let key = |c: RouteConfig| match Router::new(&c) {
            Err(OperatorError::Config { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        let c = RouteConfig {
            rules: vec![rule("a", "true", "q"), rule("a", "true", "q")],
            ..Default::default()
        };
        assert_eq!(key(c), "route.rules[1].name");
        let c = RouteConfig {
            rules: vec![rule("default", "true", "q")],
            ..Default::default()
        };
        assert_eq!(key(c), "route.rules[0].name");
        let c = RouteConfig {
            rules: vec![rule("a", "true", "")],
            ..Default::default()
        };
        assert_eq!(key(c), "route.rules[0].queue");
        let mut c = RouteConfig::default();
        c.default_queues.insert("weather".into(), "q".into());
        assert_eq!(key(c), "route.default_queues.weather");
        let c = RouteConfig {
            wholesale_fault_categories: vec!["faults".into()],
            ..Default::default()
        };
        assert_eq!(key(c), "route.wholesale_fault_categories[0]");
    }

    #[test]
    fn config_deserializes_and_overrides_merge_with_the_spec_table() {
        let c: RouteConfig = serde_json::from_str(
            r#"{"rules":[{"name":"w","when":"customer.segment = 'wholesale'","queue":"wl"}],
                "default_queues":{"billing":"billing-team"}}"#,
        )
        .unwrap();
        assert_eq!(c.incident_queue, "network-operations");
        let r = Router::new(&c).unwrap();
        assert_eq!(r.rule_names().collect::<Vec<_>>(), ["w"]);
        assert_eq!(r.default_queue(Some("billing"), None, None), "billing-team");
        assert_eq!(
            r.default_queue(Some("delivery"), None, None),
            "orders-delivery"
        );
        assert!(serde_json::from_str::<RouteConfig>(r#"{"rulez":[]}"#).is_err());
        assert!(serde_json::from_str::<RouteConfig>(
            r#"{"rules":[{"name":"a","when":"true","queue":"q","x":1}]}"#
        )
        .is_err());
    }

    #[test]
    fn default_taxonomy_table() {
        let r = router(Vec::new());
        // (category, incident_id, customer_segment, queue)
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a str);
        let cases: &[Case] = &[
            (Some("network_outage"), None, None, "technical-support"),
            (
                Some("network_outage"),
                Some("inc-1"),
                None,
                "network-operations",
            ),
            (
                Some("network_outage"),
                Some("inc-1"),
                Some("wholesale"),
                "network-operations",
            ),
            (
                Some("network_outage"),
                None,
                Some("wholesale"),
                "wholesale-liaison",
            ),
            (Some("broadband_fault"), None, None, "technical-support"),
            (
                Some("broadband_fault"),
                Some("inc-1"),
                None,
                "technical-support",
            ),
            (
                Some("broadband_fault"),
                None,
                Some("wholesale"),
                "wholesale-liaison",
            ),
            (Some("engineer_appointment"), None, None, "field-service"),
            (
                Some("engineer_appointment"),
                None,
                Some("wholesale"),
                "wholesale-liaison",
            ),
            (Some("billing"), None, Some("wholesale"), "billing"),
            (Some("account_access"), None, None, "account-support"),
            (Some("switching_cancellation"), None, None, "retention"),
            (Some("delivery"), None, None, "orders-delivery"),
            (
                Some("complaint_escalation"),
                None,
                None,
                "complaints-escalation",
            ),
            (Some("praise"), None, Some("business"), "social-engagement"),
            (Some("general_enquiry"), None, None, "social-engagement"),
            (Some("weather"), None, None, "social-engagement"),
            (None, None, None, "social-engagement"),
        ];
        for &(cat, inc, seg, want) in cases {
            assert_eq!(
                r.default_queue(cat, inc, seg),
                want,
                "{cat:?} {inc:?} {seg:?}"
            );
        }
        // The same through a batch.
        let b = batch(
            &[
                ("category", cases.iter().map(|c| c.0).collect()),
                ("incident_id", cases.iter().map(|c| c.1).collect()),
                ("customer_segment", cases.iter().map(|c| c.2).collect()),
            ],
            None,
        );
        let got: Vec<_> = routed(&r, &b).into_iter().map(|(q, _)| q).collect();
        let want: Vec<_> = cases.iter().map(|c| c.3.to_owned()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn missing_columns_evaluate_as_null() {
        // No identity join, no severity: customer rules just don't match.
        let r = router(vec![
            rule("w", "customer.segment = 'wholesale'", "wl"),
            rule("v", "NOT customer.vulnerable", "x"),
            rule("unidentified", "customer.id IS NULL", "social-triage"),
        ]);
        let b = batch(&[("category", vec![Some("billing")])], None);
        assert_eq!(routed(&r, &b), [pair("social-triage", "unidentified")]);
        let r = router(vec![rule("w", "customer.segment = 'wholesale'", "wl")]);
        let b = batch(&[("text", vec![Some("hi")])], None);
        assert_eq!(routed(&r, &b), [pair("social-engagement", "default")]);
    }

    #[test]
    fn other_input_types_are_cast() {
        // priority as Int64 (e.g. read back from JSON) still compares.
        let r = router(vec![rule("high", "priority >= 50", "hq")]);
        let b = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "priority",
                DataType::Int64,
                true,
            )])),
            vec![Arc::new(arrow::array::Int64Array::from(vec![
                Some(70),
                Some(10),
                None,
            ])) as _],
        )
        .unwrap();
        assert_eq!(
            routed(&r, &b),
            [
                pair("hq", "high"),
                pair("social-engagement", "default"),
                pair("social-engagement", "default")
            ]
        );
        let b = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "priority",
                DataType::Binary,
                true,
            )])),
            vec![Arc::new(arrow::array::BinaryArray::from(vec![b"x".as_ref()])) as _],
        )
        .unwrap();
        assert!(r.route_batch(&b).is_err());
    }

    #[test]
    fn empty_batch_and_no_rules() {
        let r = router(vec![rule("a", "true", "q")]);
        let b = batch(&[("category", vec![])], None);
        assert_eq!(r.route_batch(&b).unwrap().num_rows(), 0);
        let r = router(Vec::new());
        let b = batch(&[("category", vec![Some("delivery")])], None);
        assert_eq!(routed(&r, &b), [pair("orders-delivery", "default")]);
    }

    /// A batch of the parse output schema with the given texts.
    fn mention_batch(texts: &[&str]) -> RecordBatch {
        use crate::schema::{col as mcol, mention_schema};
        let schema = mention_schema();
        let n = texts.len();
        let arrays = schema
            .fields()
            .iter()
            .map(|f| -> ArrayRef {
                match (f.name().as_str(), f.data_type()) {
                    (mcol::TEXT, _) => Arc::new(StringArray::from(texts.to_vec())),
                    (mcol::CHANNEL, _) => Arc::new(StringArray::from(vec!["twitter"; n])),
                    (_, _) if f.is_nullable() => arrow::array::new_null_array(f.data_type(), n),
                    (_, DataType::Utf8) => Arc::new(StringArray::from(vec!["x"; n])),
                    (_, DataType::Boolean) => Arc::new(BooleanArray::from(vec![false; n])),
                    (_, DataType::Int32) => Arc::new(arrow::array::Int32Array::from(vec![0; n])),
                    (_, DataType::Int64) => Arc::new(arrow::array::Int64Array::from(vec![0; n])),
                    (_, DataType::Timestamp(_, _)) => Arc::new(
                        arrow::array::TimestampMillisecondArray::from(vec![0; n])
                            .with_timezone("UTC"),
                    ),
                    (name, t) => panic!("unhandled column {name}: {t}"),
                }
            })
            .collect();
        RecordBatch::try_new(schema, arrays).unwrap()
    }

    #[test]
    fn enriched_schema_matches_the_operators_and_routes_end_to_end() {
        let b = mention_batch(&[
            "@BTCare three days without broadband and I'm disabled, this is going to Ofcom",
            "@EE thank you, brilliant service",
        ]);
        let b = crate::language::LanguageDetector::new(&Default::default())
            .unwrap()
            .detect_batch(&b)
            .unwrap();
        let b = crate::sentiment::SentimentAnalyzer::new(
            crate::sentiment::SentimentMode::Telco,
            Default::default(),
        )
        .unwrap()
        .score_batch(&b)
        .unwrap();
        let b = crate::classify::Classifier::new(&Default::default())
            .unwrap()
            .classify_batch(&b)
            .unwrap();
        let b = crate::spam::SpamDetector::new(Default::default())
            .unwrap()
            .detect_batch(&b)
            .unwrap();
        let b = crate::identity_join::IdentityJoin::new(Default::default())
            .unwrap()
            .join_batch(&b)
            .unwrap();
        let b = crate::severity::Severity::new(&Default::default())
            .unwrap()
            .score_batch(&b)
            .unwrap();
        let enriched = enriched_mention_schema();
        for f in enriched.fields() {
            if [correlate_col::INCIDENT_ID, correlate_col::RELATED_CASE_ID]
                .contains(&f.name().as_str())
            {
                continue;
            }
            let got = b
                .schema()
                .field_with_name(f.name())
                .unwrap_or_else(|_| panic!("operators do not produce `{}`", f.name()))
                .clone();
            assert_eq!(got.data_type(), f.data_type(), "{}", f.name());
        }
        let r = router(vec![
            rule(
                "escalate",
                "severity = 'P1' AND category = 'complaint_escalation'",
                "esc-p1",
            ),
            rule("known", "identity.matched", "never"),
        ]);
        assert_eq!(
            routed(&r, &b),
            [
                pair("esc-p1", "escalate"),
                pair("social-engagement", "default")
            ]
        );
    }
}
