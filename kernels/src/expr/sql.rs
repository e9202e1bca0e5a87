//! Programs from SQL text, planned the way DataFusion's planner plans them (coerced, then
//! simplified), for tests, `cinder gpu-check` and the benchmarks.

use std::sync::Arc;

use arrow::datatypes::Schema;
use datafusion::common::DFSchema;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;

use super::{Program, translate};

/// The physical expression DataFusion plans for `sql` over `schema`, with its constants
/// folded (`DATE '1994-01-01' + INTERVAL '1' YEAR` becomes a date).
pub fn physical_from_sql(sql: &str, schema: &Schema) -> Result<Arc<dyn PhysicalExpr>, String> {
    let ctx = SessionContext::new();
    let df_schema = Arc::new(DFSchema::try_from(schema.clone()).map_err(|e| e.to_string())?);
    let logical = ctx
        .parse_sql_expr(sql, &df_schema)
        .map_err(|e| format!("{sql}: {e}"))?;
    let simplifier = ExprSimplifier::new(
        SimplifyContext::builder()
            .with_schema(Arc::clone(&df_schema))
            .build(),
    );
    let coerced = simplifier
        .coerce(logical, &df_schema)
        .map_err(|e| format!("{sql}: {e}"))?;
    let simple = simplifier
        .simplify(coerced)
        .map_err(|e| format!("{sql}: {e}"))?;
    ctx.create_physical_expr(simple, &df_schema)
        .map_err(|e| format!("{sql}: {e}"))
}

/// The device program for `sql` over `schema`, or why there is none.
pub fn program_from_sql(sql: &str, schema: &Schema) -> Result<Program, String> {
    let physical = physical_from_sql(sql, schema)?;
    translate(&physical, schema).map_err(|e| e.to_string())
}
