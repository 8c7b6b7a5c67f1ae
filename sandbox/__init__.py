"""appwright.sandbox."""
