@barge-in
Feature: Barge-in
  When the caller talks over the agent, the agent stops at once, and its
  history keeps only the words the caller actually heard: a word counts as
  heard when its last sample was played.

  Background:
    Given the LLM answers "opening hours" with "We are open from nine in the morning until half past five in the evening, Monday to Friday, and from ten until four on Saturday."

  Scenario: The caller interrupts early in the reply
    When the caller says "what are your opening hours"
    And the caller interrupts 0.3 seconds into the agent's reply saying "wait stop I have a different question"
    Then the agent stops speaking within 400 ms of the interruption
    And the agent's history holds only the words the caller heard
    And the agent's history does not contain "nine in the morning"

  Scenario: The caller interrupts mid-sentence
    When the caller says "what are your opening hours"
    And the caller interrupts 2.5 seconds into the agent's reply saying "wait stop I have a different question"
    Then the agent stops speaking within 400 ms of the interruption
    And the agent's history holds only the words the caller heard
    And the agent's history does not contain "Saturday"

  Scenario: The caller interrupts during the agent's last word
    Given the LLM answers "delivery address" with "Yes, you can change it before the parcel leaves on Saturday."
    When the caller says "can I change my delivery address"
    And the caller interrupts during the last word of the agent's reply saying "no that is not what I asked"
    Then the agent's history keeps "yes you can change it before the parcel leaves on" of the interrupted reply
    And the agent's history holds only the words the caller heard

  Scenario: The caller interrupts the greeting
    When the caller interrupts 1.0 seconds into the agent's reply saying "what are your opening hours"
    Then the agent stops speaking within 400 ms of the interruption
    And the agent's history does not contain "how can I help you today"
    And the caller hears "we are open from nine in the morning"
    And the agent's history holds only the words the caller heard

  Scenario Outline: Barge-in by a caller with the <accent> accent at <when> seconds
    Given the caller has a <accent> accent
    And the caller has a <voice> voice
    When the caller says "what are your opening hours"
    And the caller interrupts <when> seconds into the agent's reply saying "actually I need to speak to someone"
    Then the agent stops speaking within 400 ms of the interruption
    And the agent's history holds only the words the caller heard

    Examples:
      | accent   | voice  | when |
      | American | male   | 1.0  |
      | British  | female | 1.8  |
      | British  | male   | 3.2  |

  Rule: The agent hears a quiet caller at once, and never its own echo

    Scenario: A quiet caller at -35 dBFS barges in and the agent stops within 250 ms
      Given the caller speaks at -35 dBFS
      When the caller says "what are your opening hours"
      And the caller interrupts 1.5 seconds into the agent's reply saying "actually I need to speak to someone"
      Then the agent stops speaking within 250 ms of the interruption
      And the agent's history holds only the words the caller heard

    Scenario: A caller at -40 dBFS talks over the end of the greeting's first sentence and the agent stops
      Given the caller speaks at -40 dBFS
      When the caller interrupts 1.75 seconds into the agent's reply saying "what are your opening hours"
      Then the agent stops speaking within 400 ms of the interruption

    Scenario: The agent's own voice echoing back at -15 dB is not a barge-in
      Given the agent's voice echoes into the caller's microphone at -15 dB after 40 ms
      When the caller says "what are your opening hours"
      And the caller says "thank you that is all I needed"
      Then the agent never cuts its own reply off
      And the caller hears "and from ten until four on Saturday"

    Scenario Outline: A soft barge-in gets through whatever echo loss the tenant declares, <erl> dB at <when> s
      Given tenant "acme" has an overlay:
        """
        {"schema_version": 3, "vad": {"echo_return_loss_db": <erl>}}
        """
      And the caller has a male voice
      When tenant "acme" calls
      And the caller says "what are your opening hours"
      And the caller interrupts <when> seconds into the agent's reply saying "actually I need to speak to someone"
      Then the agent stops speaking within 400 ms of the interruption

      Examples:
        | erl | when |
        | 15  | 1.0  |
        | 30  | 1.0  |
        | 15  | 3.0  |
        | 30  | 3.0  |

  Rule: A false interruption does not cost the caller the reply

    Scenario: The caller says "okay" while the agent talks, and hears the whole reply
      When the caller says "what are your opening hours"
      And the caller says "okay" as a backchannel 1.5 seconds into the agent's reply
      Then the caller hears "from ten until four on saturday"
      And the agent's history holds only the words the caller heard
      And the agent's history contains "monday to friday and from ten until four on saturday"

    Scenario: The caller coughs while the agent talks, and hears the whole reply
      When the caller says "what are your opening hours"
      And the caller coughs 2 seconds into the agent's reply
      Then the caller hears "from ten until four on saturday"
      And the agent's history holds only the words the caller heard
      And the agent's history contains "monday to friday and from ten until four on saturday"

    Scenario: A cough over the reply does not deafen the agent to the caller's real interruption after it
      When the caller says "what are your opening hours"
      And the caller coughs 1 seconds into the agent's reply
      And the caller interrupts 2.5 seconds into the agent's reply saying "wait stop I have a different question"
      Then the agent stops speaking within 400 ms of the interruption
      And the agent's history holds only the words the caller heard

    Scenario: The caller says "okay", then really interrupts the reply the agent went on with
      When the caller says "what are your opening hours"
      And the caller says "okay" as a backchannel 1.0 seconds into the agent's reply
      And the caller interrupts 3.0 seconds into the agent's reply saying "wait stop I have a different question"
      Then the agent stops speaking within 400 ms of the interruption
      And the agent's history holds only the words the caller heard

    Scenario: The caller says "okay" twice over one reply, and hears all of it
      When the caller says "what are your opening hours"
      And the caller says "okay" as a backchannel 1.0 seconds into the agent's reply
      And the caller says "okay" as a backchannel 5.0 seconds into the agent's reply
      Then the caller hears "from ten until four on saturday"
      And the agent's history holds only the words the caller heard
