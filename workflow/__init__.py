"""appwright.workflow."""
