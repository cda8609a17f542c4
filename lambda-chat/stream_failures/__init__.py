"""What happens to a stream job Lambda could not run (its on-failure destination)."""
