@audio
Feature: Caller audio
  Callers speak with many accents, from noisy places, over lossy phone
  lines, with the agent's own voice leaking back into their microphone.
  The agent must understand them when the audio allows it, ask again when it
  does not, and never mistake its own echo for the caller.

  Background:
    Given the LLM answers "opening hours" with "We are open from nine to five, Monday to Friday."

  Scenario Outline: A <accent> caller in <noise> noise at <snr> dB SNR is understood
    Given the caller speaks with a "<accent>" accent
    And the caller has a <voice> voice
    And the caller calls with <noise> noise at <snr> dB SNR
    When the caller says "what are your opening hours"
    Then the caller hears "we are open from nine to five, Monday to Friday"
    And the agent's history holds only the words the caller heard

    Examples:
      # The renderer's SNR accuracy is a property test of the renderer
      # (audio/render.rs), not something to assert about the agent.
      | accent         | voice  | noise  | snr |
      | American       | female | cafe   | 20  |
      | New York       | male   | street | 20  |
      | British        | male   | pink   | 15  |
      | RP             | female | babble | 25  |
      | Scottish       | female | cafe   | 20  |
      | Lancastrian    | male   | white  | 15  |
      | West Midlands  | female | hum    | 20  |
      | Caribbean      | male   | brown  | 20  |

  Scenario Outline: Babble at <snr> dB SNR neither cancels the answer nor holds the turn open (<accent>)
    Given the caller has a <accent> accent
    And the caller calls with babble noise at <snr> dB SNR
    And the LLM answers "opening hours" with "We are open from nine to five, Monday to Friday."
    When the caller says "what are your opening hours"
    Then the caller hears "we are open from nine to five"

    Examples:
      | accent   | snr |
      | RP       | 20  |
      | RP       | 22  |
      | British  | 20  |
      | American | 20  |
      | Scottish | 20  |

  # At 0 dB SNR whether the agent notices the caller at all depends on the
  # seed; what must not depend on it is that it never guesses.
  Scenario Outline: Speech buried in <noise> noise at 0 dB SNR is never guessed at
    Given the caller has a Scottish accent
    And the caller calls with <noise> noise at 0 dB SNR
    And a turn latency budget of 5500 ms
    When the caller says "what are your opening hours"
    Then the agent asks the caller to say it again or whether they are still there
    And the caller does not hear "we are open from nine to five"

    Examples:
      | noise |
      | cafe  |
      | white |

  Scenario: A caller over a phone line at 8 kHz mu-law is understood
    Given the caller has a Caribbean accent
    And the caller calls over a phone line
    When the caller says "what are your opening hours"
    Then the caller hears "we are open from nine to five, Monday to Friday"

  Scenario: Packet loss on the phone line does not stop the agent understanding
    Given the caller speaks with a "West Midlands" accent
    And the caller calls over a phone line
    And the line loses 5% of packets
    When the caller says "what are your opening hours"
    Then the caller hears "we are open from nine to five, Monday to Friday"

  Scenario: A line that loses most packets garbles the caller, and the agent asks again
    Given the caller has a British accent
    And the caller calls over a phone line
    And the line loses 60% of packets
    And a turn latency budget of 5000 ms
    When the caller says "what are your opening hours"
    Then the agent asks the caller to say it again
    And the caller does not hear "we are open from nine to five"

  Scenario: Jitter beyond the jitter buffer conceals late packets
    Given the caller has a Lancastrian accent
    And the caller calls over a phone line
    And the line has 40 ms of jitter and a 60 ms jitter buffer
    When the caller says "what are your opening hours"
    Then the caller hears "we are open from nine to five, Monday to Friday"

  Scenario: The agent's own echo does not trigger a false barge-in
    Given the LLM answers "status of my refund" with "Your refund was approved on Monday and will reach your card within five working days, and we will email you when it does."
    And the agent's voice echoes into the caller's microphone at -25 dB after 40 ms
    When the caller says "what is the status of my refund"
    And the caller says "thank you that is all I needed"
    Then the agent never cuts its own reply off
    And the caller hears "and we will email you when it does"

  Scenario: A real barge-in still interrupts through the echo
    Given the LLM answers "status of my refund" with "Your refund was approved on Monday and will reach your card within five working days, and we will email you when it does."
    And the agent's voice echoes into the caller's microphone at -25 dB after 40 ms
    When the caller says "what is the status of my refund"
    And the caller interrupts 1.5 seconds into the agent's reply saying "wait stop I have a different question"
    Then the agent stops speaking within 400 ms of the interruption
    And the agent's history holds only the words the caller heard

  Scenario: A hesitation inside the caller's sentence does not end the turn
    Given the LLM answers "delivery address" with "Yes, you can change it until the order ships."
    And the caller has an RP accent
    When the caller says "can I change my delivery address" hesitating 500 ms after "change"
    Then the agent's history holds the caller's words "can I change my delivery address" as one turn

  Scenario Outline: Fast and slow talkers at <rate> kHz are understood
    Given the caller speaks at <speed> times normal speed
    And the caller's audio reaches the agent at <rate> kHz
    When the caller says "what are your opening hours"
    Then the caller hears "we are open from nine to five, Monday to Friday"

    Examples:
      | speed | rate |
      | 0.9   | 24   |
      | 1.1   | 48   |
      | 1.0   | 8    |
