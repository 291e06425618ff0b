//! What the server does around every GraphQL execution, outside the schema:
//! parsing (through a cache), the alias limit, a stable `extensions.code` on
//! every error, and the operation metrics.
//!
//! The schema has no async-graphql extensions on purpose. With even one,
//! async-graphql resolves every field through the extension chain, a boxed
//! future per field per extension: that took about a third of the API's CPU
//! on a 20-post feed of ~1,000 fields (BENCHMARKS.md). Without them a field
//! is resolved directly.

use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex},
    time::Instant,
};

use async_graphql::{
    Request, Response, ServerError, Value,
    parser::{
        parse_query,
        types::{DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet},
    },
};
use lru::LruCache;

use crate::{config::GraphqlLimits, error::code};

/// Parsed documents kept, by query text: clients send the same few
/// documents over and over, and cloning a parsed one is far cheaper than
/// parsing it again.
const CACHED_DOCUMENTS: usize = 256;
/// Longer documents are parsed each time rather than held in the cache.
const CACHED_DOCUMENT_MAX_BYTES: usize = 16 * 1024;

pub struct Pipeline {
    max_aliases: usize,
    /// Whether validation messages may keep "Did you mean ...?"; off with
    /// introspection, as the hints would leak the schema it hides.
    suggestions: bool,
    documents: Mutex<LruCache<Arc<str>, ExecutableDocument>>,
}

/// A request ready to execute, or the response that refuses it.
pub struct Prepared {
    request: Request,
    /// The selected operation's name, for metrics.
    name: Option<String>,
    operation: Option<OperationType>,
    refused: Option<Response>,
}

impl Prepared {
    /// The type of the operation the request selects, when it parsed.
    pub fn operation(&self) -> Option<OperationType> {
        self.operation
    }

    /// The request, for the caller to attach data.
    pub fn request_mut(&mut self) -> &mut Request {
        &mut self.request
    }

    /// The response to a refused request, for callers that execute
    /// prepared requests themselves (subscriptions); `None` if it may run.
    pub fn take_refusal(&mut self) -> Option<Response> {
        self.refused.take()
    }

    /// The request, to execute as a stream (after [`Prepared::take_refusal`]).
    pub fn into_request(self) -> Request {
        self.request
    }
}

impl Pipeline {
    pub fn new(limits: &GraphqlLimits) -> Self {
        Self {
            max_aliases: limits.max_aliases,
            suggestions: limits.introspection,
            documents: Mutex::new(LruCache::new(
                NonZeroUsize::new(CACHED_DOCUMENTS).expect("non-zero"),
            )),
        }
    }

    /// Parses the request's document, or takes it from the cache, and
    /// checks the alias limit. The request then carries the parsed
    /// document, which async-graphql uses instead of parsing it again.
    pub fn prepare(&self, mut request: Request) -> Prepared {
        let document = match self.parse(&request.query) {
            Ok(document) => document,
            Err(err) => {
                return Prepared {
                    name: request.operation_name.clone(),
                    request,
                    operation: None,
                    refused: Some(Response::from_errors(vec![with_code(
                        err,
                        code::GRAPHQL_PARSE_FAILED,
                    )])),
                };
            }
        };
        let (name, operation) = selected_operation(&document, request.operation_name.as_deref());
        let total = count_aliases(&document);
        if total > self.max_aliases {
            let err = ServerError::new(
                format!(
                    "the document uses {total} aliases; the limit is {}",
                    self.max_aliases
                ),
                None,
            );
            return Prepared {
                request,
                name,
                operation,
                refused: Some(Response::from_errors(vec![with_code(
                    err,
                    code::GRAPHQL_VALIDATION_FAILED,
                )])),
            };
        }
        request.set_parsed_query(document);
        Prepared {
            request,
            name,
            operation,
            refused: None,
        }
    }

    fn parse(&self, query: &str) -> Result<ExecutableDocument, ServerError> {
        let cacheable = query.len() <= CACHED_DOCUMENT_MAX_BYTES;
        if cacheable && let Some(document) = self.cache().get(query) {
            return Ok(document.clone());
        }
        let document = parse_query(query)?;
        if cacheable {
            self.cache().put(Arc::from(query), document.clone());
        }
        Ok(document)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, LruCache<Arc<str>, ExecutableDocument>> {
        self.documents.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Executes a prepared request (or answers its refusal), gives its
    /// errors their codes and counts it.
    pub async fn execute(&self, schema: &super::AppSchema, prepared: Prepared) -> Response {
        let started = Instant::now();
        let (name, operation) = (prepared.name, prepared.operation);
        let mut response = match prepared.refused {
            Some(refused) => refused,
            None => schema.execute(prepared.request).await,
        };
        self.finish(&mut response);
        crate::metrics::record_graphql_operation(name.as_deref(), operation, &response, started);
        response
    }

    /// Gives every error async-graphql raised itself a code. Our own errors
    /// always carry one (see `AppError`). What is left: without a path, the
    /// document failed validation or a limit before execution; with one,
    /// execution rejected an argument value.
    pub fn finish(&self, response: &mut Response) {
        for error in &mut response.errors {
            let coded = error
                .extensions
                .as_ref()
                .is_some_and(|ext| ext.get("code").is_some());
            if coded {
                continue;
            }
            if error.path.is_empty() && is_parse_guard(&error.message) {
                set_code(error, code::GRAPHQL_PARSE_FAILED);
            } else if error.path.is_empty() {
                if !self.suggestions
                    && let Some(at) = error.message.find(" Did you mean")
                {
                    error.message.truncate(at);
                }
                set_code(error, code::GRAPHQL_VALIDATION_FAILED);
            } else {
                set_code(error, code::BAD_USER_INPUT);
            }
        }
    }
}

/// async-graphql's two guards that run with parsing (nesting deeper than
/// the parser's recursion limit, too many directives on one field), which
/// clients have always seen as parse failures.
fn is_parse_guard(message: &str) -> bool {
    message.starts_with("The recursion depth of the query")
        || message.starts_with("The number of directives on the field")
}

fn with_code(mut err: ServerError, code: &'static str) -> ServerError {
    set_code(&mut err, code);
    err
}

fn set_code(err: &mut ServerError, code: &'static str) {
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", Value::from(code));
}

/// The name and type of the operation a request selects (the name it
/// asked for, or the document's only operation's name), if it exists.
fn selected_operation(
    document: &ExecutableDocument,
    requested: Option<&str>,
) -> (Option<String>, Option<OperationType>) {
    match (&document.operations, requested) {
        (DocumentOperations::Single(op), _) => (requested.map(str::to_owned), Some(op.node.ty)),
        (DocumentOperations::Multiple(ops), Some(name)) => {
            (Some(name.to_owned()), ops.get(name).map(|op| op.node.ty))
        }
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.iter().next().map_or((None, None), |(name, op)| {
                (Some(name.to_string()), Some(op.node.ty))
            })
        }
        (DocumentOperations::Multiple(_), None) => (None, None),
    }
}

/// Aliased fields in every operation and fragment of a document.
fn count_aliases(document: &ExecutableDocument) -> usize {
    fn aliases(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|selection| match &selection.node {
                Selection::Field(field) => {
                    usize::from(field.node.alias.is_some())
                        + aliases(&field.node.selection_set.node)
                }
                Selection::InlineFragment(fragment) => aliases(&fragment.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
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
    in_operations + in_fragments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline() -> Pipeline {
        Pipeline::new(&GraphqlLimits {
            max_depth: 10,
            max_complexity: 100,
            max_batch: 10,
            max_aliases: 2,
            introspection: false,
        })
    }

    fn code_of(response: &Response) -> Option<Value> {
        response.errors[0].extensions.as_ref()?.get("code").cloned()
    }

    #[test]
    fn parse_errors_and_alias_limits_are_refused_with_codes() {
        let pipeline = pipeline();
        let mut bad = pipeline.prepare(Request::new("{ users("));
        let refused = bad.take_refusal().expect("refused");
        assert_eq!(
            code_of(&refused),
            Some(Value::from(code::GRAPHQL_PARSE_FAILED))
        );
        let mut aliased = pipeline.prepare(Request::new("{ a: x b: x c: x }"));
        let refused = aliased.take_refusal().expect("refused");
        assert_eq!(
            code_of(&refused),
            Some(Value::from(code::GRAPHQL_VALIDATION_FAILED))
        );
        assert!(refused.errors[0].message.contains("3 aliases"));
    }

    #[test]
    fn documents_are_cached_and_typed() {
        let pipeline = pipeline();
        let query = "query A { x } mutation B { y }";
        let typed = pipeline.prepare(Request::new(query).operation_name("B"));
        assert_eq!(typed.operation(), Some(OperationType::Mutation));
        assert_eq!(pipeline.cache().len(), 1);
        let again = pipeline.prepare(Request::new(query));
        assert_eq!(again.operation(), None, "two operations and no name");
        assert_eq!(pipeline.cache().len(), 1);
        let huge = format!("{{ x }} # {}", "-".repeat(CACHED_DOCUMENT_MAX_BYTES));
        assert!(pipeline.prepare(Request::new(huge)).refused.is_none());
        assert_eq!(pipeline.cache().len(), 1, "long documents are not kept");
    }

    #[test]
    fn uncoded_errors_get_codes_and_lose_suggestions() {
        let pipeline = pipeline();
        let mut response = Response::from_errors(vec![
            ServerError::new("Unknown field \"x\". Did you mean \"y\"?", None),
            {
                let mut e = ServerError::new("bad argument", None);
                e.path = vec![async_graphql::PathSegment::Field("user".into())];
                e
            },
            with_code(ServerError::new("mine", None), code::NOT_FOUND),
        ]);
        pipeline.finish(&mut response);
        let codes: Vec<_> = response
            .errors
            .iter()
            .map(|e| e.extensions.as_ref().unwrap().get("code").cloned())
            .collect();
        assert_eq!(
            codes,
            [
                Some(Value::from(code::GRAPHQL_VALIDATION_FAILED)),
                Some(Value::from(code::BAD_USER_INPUT)),
                Some(Value::from(code::NOT_FOUND)),
            ]
        );
        assert_eq!(response.errors[0].message, "Unknown field \"x\".");
    }
}
