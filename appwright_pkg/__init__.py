"""appwright."""
