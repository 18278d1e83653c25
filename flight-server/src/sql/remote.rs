//! `FlightReader`: the parts of global tables held by other instances, read with a Flight
//! `do_get` of the part's id from its owner, with this instance's token (the instances of a
//! cluster share one).

use arrow_flight::Ticket;
use futures::{StreamExt, TryStreamExt};
use vineyard_core::ObjectID;
use vineyard_sql::{RemoteBatches, RemoteReader};

use crate::client::RemoteClient;

/// Reads remote parts over Flight.
#[derive(Clone, Debug, Default)]
pub struct FlightReader {
    token: Option<String>,
}

impl FlightReader {
    /// A reader whose calls carry `token`, if any.
    pub fn new(token: Option<String>) -> FlightReader {
        FlightReader { token }
    }
}

#[tonic::async_trait]
impl RemoteReader for FlightReader {
    async fn read(&self, endpoint: &str, id: ObjectID) -> vineyard_sql::Result<RemoteBatches> {
        let failed = |error: crate::Error| vineyard_sql::Error::invalid(error.to_string());
        let mut client = RemoteClient::connect(endpoint, self.token.as_deref())
            .await
            .map_err(failed)?;
        let batches = client
            .flight()
            .do_get(Ticket::new(id.to_string()))
            .await
            .map_err(|error| failed(error.into()))?;
        Ok(batches.map_err(move |error| failed(error.into())).boxed())
    }
}
