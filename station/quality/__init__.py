"""Quality: functional test, QA sign-off, holds."""
