//! The hub's registry for agents and MCP clients, from the client side: the OAuth clients that
//! registered themselves (`/api/clients`) and the resources tokens are issued for
//! (`/api/resources`). Auditors and admins read; admins revoke and register.

use keyway_api::clients::{CreateResource, RegisteredClient, RegisteredClients, ResourceView, Resources};
use reqwest::Method;

use crate::http::path_segment;
use crate::{Client, Error};

const ID: &str = "valid id";

impl Client {
    /// `GET /api/clients`: dynamically registered clients, newest first.
    pub async fn registered_clients(&self) -> Result<Vec<RegisteredClient>, Error> {
        Ok(self.get::<RegisteredClients>("/api/clients").await?.clients)
    }

    /// Revokes a registered client and ends every sign-in issued to it.
    pub async fn revoke_client(&self, id: &str) -> Result<RegisteredClient, Error> {
        self.admin(Method::POST, &format!("/api/clients/{}/revoke", path_segment(id, ID)?), &()).await
    }

    /// `GET /api/resources`: the hub's configured resources and the registered ones.
    pub async fn resources(&self) -> Result<Vec<ResourceView>, Error> {
        Ok(self.get::<Resources>("/api/resources").await?.resources)
    }

    /// Registers a resource (an MCP server) the hub issues tokens for.
    pub async fn create_resource(&self, resource: &CreateResource) -> Result<ResourceView, Error> {
        self.admin(Method::POST, "/api/resources", resource).await
    }

    /// Deletes a registered resource; its sign-ins end.
    pub async fn delete_resource(&self, id: &str) -> Result<ResourceView, Error> {
        self.admin(Method::DELETE, &format!("/api/resources/{}", path_segment(id, ID)?), &()).await
    }
}
