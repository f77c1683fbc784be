import os

from hypothesis import HealthCheck, settings

# CI profile: no deadlines (the machine is shared and noisy), a fixed budget of examples, derandomised so
# that a CI run is repeatable.
settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
