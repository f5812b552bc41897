//! The state every handler can reach.

use std::ops::Deref;
use std::sync::Arc;

use crate::config::Config;
use crate::directory::Directory;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState(Arc<App>);

pub struct App {
    pub directory: Directory,
    pub config: Arc<Config>,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(directory: Directory, config: Arc<Config>) -> Self {
        Self(Arc::new(App {
            directory,
            config,
            metrics: Metrics::default(),
        }))
    }
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
