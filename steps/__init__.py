"""appwright.steps."""
