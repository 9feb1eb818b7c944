//! Runnable examples: see the `[[example]]` entries of this package.
