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
//!   1. a category in `incident_categories` (`network_outage`,
//!      `broadband_fault`: the categories the incident detector counts) with a
//!      non-null `incident_id` → `incident_queue` (`network-operations`);
//!   2. a `customer_segment` in `wholesale_segments` (`wholesale`) with a
//!      category in `wholesale_fault_categories` (`network_outage`,
//!      `broadband_fault`, `engineer_appointment`) → `wholesale_queue`
//!      (`wholesale-liaison`);
//!   3. a category in `wholesale_fault_categories` whose text names a
//!      `wholesale_phrases` business term (`leased line`, `MVNO`,
//!      `interconnect`, …: a wholesale partner's fault, the author often not
//!      a known customer) → `wholesale_queue`, rule name
//!      [`WHOLESALE_TERMS_RULE`];
//!   4. the category's entry in `default_queues`; a null or unknown
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

use crate::classify::{check_category, Category};
use crate::columns::{append_columns, str_at, StrColumn};
use crate::error::{config_err, OperatorError, Result};
use crate::operator::{names, Operator};
use crate::schema::{col, enriched_mention_schema};

/// The [`col::ROUTE_RULE`] value of a row routed by the default taxonomy.
pub const DEFAULT_RULE: &str = "default";

/// The [`col::ROUTE_RULE`] value of a fault routed to the wholesale queue by
/// a business term in its text (`route.wholesale_phrases`).
pub const WHOLESALE_TERMS_RULE: &str = "wholesale_terms";

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
    /// Business terms (ASCII case-insensitive, whole words) that make a
    /// fault a wholesale partner's: such a fault goes to `wholesale_queue`
    /// whoever wrote it. Empty turns this off.
    pub wholesale_phrases: Vec<String>,
}

/// Default `wholesale_phrases`: what a wholesale partner (an MVNO, a
/// carrier, a business on a leased circuit) says and a household does not.
pub fn default_wholesale_phrases() -> Vec<String> {
    strings(&[
        "wholesale",
        "mvno",
        "mvnos",
        "interconnect",
        "interconnects",
        "carrier partner",
        "partner carrier",
        "leased line",
        "leased lines",
        "our circuit",
        "our circuits",
        "the circuit is down",
        "circuit id",
        "circuit ref",
        "ethernet circuit",
        "mpls",
        "bulk sims",
        "bulk sim",
        "enterprise account",
        "our sites",
        "all our sites",
        "our branches",
        "our offices",
        "our office is without",
        "our office has no",
        "whole office",
        "entire office",
        "nni",
        "sip trunk",
        "sip trunks",
        "backhaul",
    ])
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
            incident_categories: strings(&["network_outage", "broadband_fault"]),
            wholesale_queue: "wholesale-liaison".into(),
            wholesale_segments: strings(&["wholesale"]),
            wholesale_fault_categories: strings(&[
                "network_outage",
                "broadband_fault",
                "engineer_appointment",
            ]),
            wholesale_phrases: default_wholesale_phrases(),
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
    /// `wholesale_phrases` and each one's word boundaries.
    wholesale_terms: Option<WholesaleTerms>,
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
        let wholesale_terms = wholesale_terms(&config.wholesale_phrases)?;
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
            wholesale_terms,
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

    /// The first `wholesale_phrases` term in `text` when `category` is a
    /// wholesale fault category (what sends it to the wholesale queue).
    pub fn wholesale_term<'t>(&self, category: Option<&str>, text: &'t str) -> Option<&'t str> {
        let cat = category.and_then(Category::parse)?;
        let (ac, bounds) = self.wholesale_terms.as_deref()?;
        if !self.wholesale_fault[cat.index()] {
            return None;
        }
        ac.find_overlapping_iter(text)
            .find(|m| {
                crate::text::is_whole_match(
                    text,
                    m.start(),
                    m.end(),
                    bounds[m.pattern().as_usize()],
                )
            })
            .map(|m| &text[m.start()..m.end()])
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
}

/// The automaton of `route.wholesale_phrases` and each phrase's word
/// boundaries.
type WholesaleTerms = Arc<(aho_corasick::AhoCorasick, Vec<(bool, bool)>)>;

/// The automaton of `route.wholesale_phrases` (`None` when empty).
fn wholesale_terms(phrases: &[String]) -> Result<Option<WholesaleTerms>> {
    if let Some(i) = phrases.iter().position(|p| p.trim().is_empty()) {
        return Err(config_err(
            format!("route.wholesale_phrases[{i}]"),
            "must not be empty",
        ));
    }
    if phrases.is_empty() {
        return Ok(None);
    }
    let ac = crate::text::phrase_automaton(phrases)
        .map_err(|e| config_err("route.wholesale_phrases", e.to_string()))?;
    let bounds = phrases.iter().map(|p| crate::text::boundaries(p)).collect();
    Ok(Some(Arc::new((ac, bounds))))
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
mod tests;

impl RouteConfig {
    /// Validates the settings and compiles every rule.
    pub fn build(&self) -> Result<Router> {
        Router::new(self)
    }

    /// Checks the settings (by compiling the rules).
    pub fn validate(&self) -> Result<()> {
        self.build().map(drop)
    }
}

impl Operator for Router {
    fn name(&self) -> &'static str {
        names::ROUTE
    }

    /// Appends [`col::QUEUE`] and [`col::ROUTE_RULE`] (replacing same-named
    /// columns). Reads `category`, `incident_id` and `customer_segment` for
    /// the default queue and whatever the rules name; absent columns are null.
    fn process_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
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
        let category = StrColumn::opt(batch, col::CATEGORY)?;
        let incident = StrColumn::opt(batch, col::INCIDENT_ID)?;
        let segment = StrColumn::opt(batch, col::CUSTOMER_SEGMENT)?;
        let text = StrColumn::opt(batch, col::TEXT)?;
        let mut queue_b = StringBuilder::with_capacity(n, n * 16);
        let mut rule_b = StringBuilder::with_capacity(n, n * 8);
        for (i, &c) in chosen.iter().enumerate() {
            if let Some(rule) = self.rules.get(c) {
                queue_b.append_value(&*rule.queue);
                rule_b.append_value(&*rule.name);
            } else {
                let (cat, inc) = (str_at(&category, i), str_at(&incident, i));
                let q = self.default_queue(cat, inc, str_at(&segment, i));
                let by_terms = inc.is_none()
                    && q != &*self.wholesale_queue
                    && self
                        .wholesale_term(cat, str_at(&text, i).unwrap_or(""))
                        .is_some();
                if by_terms {
                    queue_b.append_value(&*self.wholesale_queue);
                    rule_b.append_value(WHOLESALE_TERMS_RULE);
                } else {
                    queue_b.append_value(q);
                    rule_b.append_value(DEFAULT_RULE);
                }
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
