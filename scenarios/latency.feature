@latency
Feature: Latency budgets
  Every turn is timed from the end of the caller's speech to the first agent
  sample the caller hears, and broken down into end-of-turn detection, STT,
  LLM first token, the wait for a whole first sentence, TTS first audio and
  playout, measured at the service doubles rather than taken from the
  agent's own reports (the stage arithmetic is unit-tested on hand-written
  records, not asserted here).

  Scenario: A turn is answered within budget
    Given a turn latency budget of 1800 ms
    And the LLM answers "weekends" with "Yes. We deliver on Saturdays."
    When the caller says "do you deliver on weekends"
    Then every turn is answered within 1800 ms
    And the caller hears "yes we deliver on saturdays"

  Scenario: A slow LLM shows up in the LLM stage and blows the budget
    Given the LLM takes 1500 ms to the first token
    And a turn latency budget of 1500 ms
    When the caller says "how much does express shipping cost"
    Then the turn latency budget is exceeded

  Scenario: A slow recogniser and a slow TTS still fit a generous budget
    Given the recogniser takes 400 ms
    And the TTS takes 300 ms to the first audio
    And a turn latency budget of 2500 ms
    When the caller says "what is the status of my refund"
    Then every turn is answered within 2500 ms

  Scenario: The agent stops talking quickly when interrupted
    Given a stop latency budget of 250 ms
    And the LLM answers "cancel my order" with "I can cancel it for you. Before I do, may I ask why you want to cancel it today?"
    When the caller says "I want to cancel my order"
    And the caller interrupts 1.5 seconds into the agent's reply saying "yes please"
    Then the agent stops speaking within 250 ms of the interruption
    And the agent's history holds only the words the caller heard
