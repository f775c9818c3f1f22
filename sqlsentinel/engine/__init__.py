"""The execution side: one run of one alert, from query to history."""
