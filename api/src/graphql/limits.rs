//! A limit async-graphql lacks: aliases per document. Aliases let one
//! small document ask for the same field thousands of times (`a1: f a2: f
//! ...`), a classic amplification attack; depth and complexity limits do
//! not see it when the field is cheap (`__typename`). The document is
//! refused at parse time, before validation or any resolver runs.

use std::sync::Arc;

use async_graphql::{
    ServerError, ServerResult, Value, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use crate::error::code;

pub struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension(self.0))
    }
}

struct AliasLimitExtension(usize);

/// Aliased fields in a selection set and everything below it.
fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[async_graphql::async_trait::async_trait]
impl Extension for AliasLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let in_operations: usize = document
            .operations
            .iter()
            .map(|(_, op)| aliases(&op.node.selection_set.node))
            .sum();
        let in_fragments: usize = document
            .fragments
            .values()
            .map(|f| aliases(&f.node.selection_set.node))
            .sum();
        let total = in_operations + in_fragments;
        if total > self.0 {
            let mut err = ServerError::new(
                format!("the document uses {total} aliases; the limit is {}", self.0),
                None,
            );
            err.extensions
                .get_or_insert_with(Default::default)
                .set("code", Value::from(code::GRAPHQL_VALIDATION_FAILED));
            return Err(err);
        }
        Ok(document)
    }
}
