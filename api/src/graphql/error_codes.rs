//! Gives every error a stable `extensions.code`, including the ones
//! async-graphql produces itself (parse, validation and limit failures, and
//! argument coercion during execution), so clients can always branch on it.

use std::sync::Arc;

use async_graphql::{
    Response, ServerError, ServerResult, ValidationResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextValidation,
    },
    parser::types::ExecutableDocument,
};

use crate::error::code;

/// `suggestions: false` (whenever introspection is off) also removes
/// "Did you mean ...?" from validation messages, which would otherwise
/// leak the schema that disabling introspection hides.
pub struct ErrorCodes {
    pub suggestions: bool,
}

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension {
            suggestions: self.suggestions,
        })
    }
}

struct ErrorCodesExtension {
    suggestions: bool,
}

fn with_code(mut err: ServerError, code: &'static str) -> ServerError {
    let ext = err.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", Value::from(code));
    }
    err
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, code::GRAPHQL_PARSE_FAILED))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errs| {
            errs.into_iter()
                .map(|mut e| {
                    if !self.suggestions
                        && let Some(at) = e.message.find(" Did you mean")
                    {
                        e.message.truncate(at);
                    }
                    with_code(e, code::GRAPHQL_VALIDATION_FAILED)
                })
                .collect()
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        // Our own errors always carry a code (see `AppError`); what is left
        // is async-graphql rejecting an argument value.
        response.errors = std::mem::take(&mut response.errors)
            .into_iter()
            .map(|e| with_code(e, code::BAD_USER_INPUT))
            .collect();
        response
    }
}
