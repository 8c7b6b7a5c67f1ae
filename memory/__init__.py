"""appwright.memory."""
