//! The optional bearer token: with one configured, every call must carry
//! `authorization: Bearer <token>`.

use std::sync::Arc;

use tonic::metadata::MetadataMap;
use tonic::Status;

/// Checks the `authorization` header of each call against the configured token.
#[derive(Clone, Debug, Default)]
pub(crate) struct TokenCheck {
    token: Option<Arc<str>>,
}

impl TokenCheck {
    pub(crate) fn new(token: Option<&str>) -> TokenCheck {
        TokenCheck {
            token: token.filter(|token| !token.is_empty()).map(Arc::from),
        }
    }

    /// Admits the call, or says why not.
    pub(crate) fn check(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let Some(expected) = self.token.as_deref() else {
            return Ok(());
        };
        let Some(header) = metadata.get("authorization") else {
            return Err(Status::unauthenticated(
                "this vineyard instance requires a token: send the metadata \
                 `authorization: Bearer <token>` (the token vineyardd was started with, \
                 --rpc_token or VINEYARD_RPC_TOKEN)",
            ));
        };
        let presented = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim);
        match presented {
            Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(()),
            Some(_) => Err(Status::unauthenticated(
                "the bearer token in `authorization` is not the one this vineyard instance \
                 was started with",
            )),
            None => Err(Status::unauthenticated(
                "malformed `authorization` metadata: expected `Bearer <token>`",
            )),
        }
    }
}

impl tonic::service::Interceptor for TokenCheck {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        self.check(request.metadata())?;
        Ok(request)
    }
}

/// Compares without an early exit, so the time taken does not tell how much of a guess was
/// right.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(value: Option<&str>) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        if let Some(value) = value {
            metadata.insert("authorization", value.parse().unwrap());
        }
        metadata
    }

    #[test]
    fn checks_bearer_tokens() {
        let open = TokenCheck::new(None);
        assert!(open.check(&with_header(None)).is_ok());
        let closed = TokenCheck::new(Some("s3cret"));
        assert!(closed.check(&with_header(Some("Bearer s3cret"))).is_ok());
        let missing = closed.check(&with_header(None)).unwrap_err();
        assert_eq!(missing.code(), tonic::Code::Unauthenticated);
        assert!(missing.message().contains("requires a token"));
        let wrong = closed.check(&with_header(Some("Bearer nope"))).unwrap_err();
        assert!(wrong.message().contains("not the one"));
        let malformed = closed.check(&with_header(Some("Basic abc"))).unwrap_err();
        assert!(malformed.message().contains("malformed"));
    }
}
