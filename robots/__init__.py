"""Per-stage robots: configuration, scheduling, durable execution and the robot kinds."""
