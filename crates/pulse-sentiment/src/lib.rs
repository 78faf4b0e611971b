//! Sentiment of interaction text (work in progress).
