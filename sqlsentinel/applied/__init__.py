"""What runs, and when: the applied copy, the accept step, the timetable, staleness."""
