"""Building blocks below every package: human units and the pydantic types config sections share."""
