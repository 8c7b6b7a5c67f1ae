"""appwright.prompts."""
