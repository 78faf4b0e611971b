//! The sentiment model in service: a [`SentimentSlot`] shared by the
//! sentiment front end, ingest and model operations. Promoting a sentiment
//! model swaps the model in it, and the next call or ingest batch uses the new
//! one without a restart.

use std::sync::{Arc, RwLock};

use pulse_sentiment::{SentimentCard, SentimentModel};

/// The sentiment model in service, shared by `SentimentService`, ingest and
/// `ModelService` (which swaps it on promotion). Clones share the slot.
///
/// Readers take an `Arc` of the model under a read lock held for a pointer
/// copy, once per call or ingest batch, never per text, so a swap never waits
/// for scoring and scoring never sees half a swap.
#[derive(Debug, Clone, Default)]
pub struct SentimentSlot(Arc<RwLock<Option<Served>>>);

#[derive(Debug, Clone)]
struct Served {
    model: Arc<SentimentModel>,
    /// `sentiment-v<N>` when the model came from the registry.
    registry_version: Option<String>,
    /// The card of a model read from a file, kept beside it; a registry
    /// model's card is the registry's.
    file_card: Option<Arc<SentimentCard>>,
}

impl SentimentSlot {
    /// A slot serving `model` (`None`: no sentiment model).
    pub fn new(model: Option<Arc<SentimentModel>>, registry_version: Option<String>) -> Self {
        SentimentSlot(Arc::new(RwLock::new(model.map(|model| Served {
            model,
            registry_version,
            file_card: None,
        }))))
    }

    /// A slot serving a model read from a file, with the card kept beside
    /// it (if any).
    pub fn from_file(model: Arc<SentimentModel>, card: Option<Arc<SentimentCard>>) -> Self {
        SentimentSlot(Arc::new(RwLock::new(Some(Served {
            model,
            registry_version: None,
            file_card: card,
        }))))
    }

    /// The card of the model in service when it was read from a file (a
    /// registry model's card is in the registry, under its version).
    pub fn file_card(&self) -> Option<Arc<SentimentCard>> {
        self.read().and_then(|s| s.file_card)
    }

    /// The model in service now.
    pub fn get(&self) -> Option<Arc<SentimentModel>> {
        self.read().map(|s| s.model)
    }

    /// The registry version of the model in service, if it came from the registry.
    pub fn registry_version(&self) -> Option<String> {
        self.read().and_then(|s| s.registry_version)
    }

    /// Serves `model` from now on.
    pub fn set(&self, model: Arc<SentimentModel>, registry_version: Option<String>) {
        let mut slot = self.0.write().unwrap_or_else(|p| p.into_inner());
        *slot = Some(Served {
            model,
            registry_version,
            file_card: None,
        });
    }

    /// The model in service and its registry version, read together.
    pub fn current(&self) -> Option<(Arc<SentimentModel>, Option<String>)> {
        self.read().map(|s| (s.model, s.registry_version))
    }

    fn read(&self) -> Option<Served> {
        // A panic while holding the lock leaves a whole value behind; keep serving it.
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl From<Option<Arc<SentimentModel>>> for SentimentSlot {
    fn from(model: Option<Arc<SentimentModel>>) -> Self {
        SentimentSlot::new(model, None)
    }
}
