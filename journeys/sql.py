"""The SQL names of the journeys' tables, for raw SQL here and in the apps built on journeys."""

from __future__ import annotations

from journeys.models import Journey, JourneyCampaign, JourneyRun, JourneyRunStep, JourneyStep, Task

TASK = Task._meta.db_table
JOURNEY = Journey._meta.db_table
STEP = JourneyStep._meta.db_table
RUN = JourneyRun._meta.db_table
RUN_STEP = JourneyRunStep._meta.db_table
JOURNEY_CAMPAIGN = JourneyCampaign._meta.db_table
