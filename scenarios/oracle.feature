@oracle
Feature: The oracle measures what the caller lived through
  Edge cases where a harness that groups replies by when they began to
  play, or targets the wrong word, or lets the script vanish, reports
  something other than what happened. Each was once measured wrong.

  Scenario: The caller and the greeting start at the same instant
    When the caller interrupts 0.0 seconds into the agent's reply saying "what are your opening hours"
    Then the agent stops speaking within 400 ms of the interruption
    And the agent's history holds only the words the caller heard

  Scenario: The caller starts exactly when the second chunk of a reply starts playing
    Given the LLM answers "opening hours" with "We are open from nine in the morning until half past five in the evening, Monday to Friday, and from ten until four on Saturday."
    When the caller says "what are your opening hours"
    And the caller interrupts 4.03 seconds into the agent's reply saying "wait stop I have a different question"
    Then the agent stops speaking within 400 ms of the interruption
    And the agent's history holds only the words the caller heard

  Scenario: A turn the agent never answers is a finding, not a pass
    Given the LLM takes 20000 ms to the first token
    When the caller says "what are your opening hours"
    Then the agent never answers "what are your opening hours"

  Scenario: Interrupting during the last word of a two-sentence reply targets the reply's last word
    Given the LLM answers "weekends" with "Yes. We deliver on Saturdays and on Sundays."
    When the caller says "do you deliver on weekends"
    And the caller interrupts during the last word of the agent's reply saying "no that is not what I asked"
    Then the caller hears "yes we deliver on saturdays and on"
    And the agent's history holds only the words the caller heard

  Scenario: Interrupting during the last word of the first sentence targets that sentence
    Given the LLM answers "weekends" with "Yes, we deliver on Saturdays. We also deliver on Sundays."
    When the caller says "do you deliver on weekends"
    And the caller interrupts during the last word of the agent's first sentence saying "no that is not what I asked"
    Then the caller hears "yes we deliver on"
    And the caller does not hear "we also deliver"
    And the agent's history holds only the words the caller heard

  Scenario: After a silence the caller interrupts the agent's no-input prompt
    Given the agent re-prompts after 3 seconds of silence
    When the caller stays silent for 1 seconds
    And the caller interrupts 0.2 seconds into the agent's reply saying "what are your opening hours"
    Then the agent stops speaking within 400 ms of the interruption
    And the agent's history holds only the words the caller heard
    And the agent's history does not contain "are you still there"

  Scenario: A slowly streaming LLM blows the turn budget
    Given the LLM streams 3 tokens per second
    And the LLM answers "opening hours" with "We are open every weekday from nine in the morning until half past five in the evening."
    When the caller says "what are your opening hours"
    Then the turn latency budget is exceeded

  Scenario: When the agent hangs up, what the caller had left to say is a finding
    Given the LLM answers "opening hours" by calling end_call
    And the LLM answers "weekends" with "Yes, we deliver on Saturdays."
    When the caller says "what are your opening hours"
    And the caller says "do you deliver on weekends"
    Then the agent ends the call
    And the agent hangs up before the caller can say "do you deliver on weekends"
