"""appwright.platforms."""
