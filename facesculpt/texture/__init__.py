"""UV texture: unwrap, de-lighting and completion."""
