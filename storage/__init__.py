"""Storage: SQLModel tables and the database code that decides what is new."""
