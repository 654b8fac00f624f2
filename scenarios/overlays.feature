@tenancy
Feature: Customer overlays
  Each customer's configuration is an overlay stored as data, versioned, and
  merged over the immutable agent definition when a call starts; the overlay
  wins, and every merged value records where it came from.

  Scenario: The overlay wins, and the preview says where each value came from
    Given tenant "acme" has an overlay:
      """
      {"schema_version": 2, "voice": "verse", "vad": {"end_of_turn_ms": 950}}
      """
    Then tenant "acme"'s config preview shows "voice" as "verse" from the overlay
    And tenant "acme"'s config preview shows "vad.end_of_turn_ms" as "950" from the overlay
    And tenant "acme"'s config preview shows "vad.start_ms" as "96" from the base
    And tenant "acme"'s config preview shows "guardrails.redact_pii" as "false" from the default

  Scenario: The overlay's voice and end-of-turn silence govern the tenant's calls
    Given tenant "acme" has an overlay:
      """
      {"schema_version": 2, "voice": "verse", "vad": {"end_of_turn_ms": 1200}}
      """
    And the LLM answers "opening hours" with "We are open from nine to five."
    And a turn latency budget of 3000 ms
    When tenant "acme" calls
    And the caller says "what are your opening hours"
    # The default is 700 ms. The stage is measured from the end of the last
    # word's faintest tail, which the VAD already counts as silence, so it can
    # come out a few frames under the setting.
    Then every turn's end-of-turn stage takes at least 1100 ms
    And tenant "acme"'s calls spoke with the voice "verse"
    And the caller hears "we are open from nine to five"

  Scenario: A new overlay version affects new calls only
    Given tenant "acme" has an overlay:
      """
      {"schema_version": 2, "prompt": {"greeting": "Welcome to Acme. How can I help?"}}
      """
    When tenant "acme" calls
    And the caller says "what are your opening hours"
    And tenant "acme" updates its overlay to:
      """
      {"schema_version": 2, "prompt": {"greeting": "Welcome to Acme Plus. How can I help?"}}
      """
    And tenant "acme" calls
    And the caller says "what are your opening hours"
    Then call 1 heard "welcome to acme how can i help"
    And call 1 used overlay version 1
    And call 2 heard "welcome to acme plus how can i help"
    And call 2 used overlay version 2

  Scenario: Restoring an earlier overlay brings it back for new calls
    Given tenant "acme" has an overlay:
      """
      {"schema_version": 2, "prompt": {"greeting": "Welcome to Acme. How can I help?"}}
      """
    And tenant "acme" updates its overlay to:
      """
      {"schema_version": 2, "prompt": {"greeting": "Thanks for calling Acme Plus."}}
      """
    When tenant "acme" restores overlay version 1
    Then the answer is version 3, restored from version 1
    When tenant "acme" calls
    And the caller says "what are your opening hours"
    Then call 1 heard "welcome to acme how can i help"
    And call 1 used overlay version 3

  Scenario: An invalid overlay is rejected with the path of every bad field, and nothing changes
    Given tenant "acme" has an overlay:
      """
      {"schema_version": 2, "voice": "verse"}
      """
    When tenant "acme" uploads the overlay:
      """
      {"schema_version": 2, "vad": {"end_of_turn_ms": 20}, "tools": {"allow": ["wire_transfer"]}}
      """
    Then the upload is rejected naming "vad.end_of_turn_ms"
    And the upload is rejected naming "tools.allow[0]"
    And tenant "acme"'s overlay is version 1

  Scenario: An overlay with a field the schema does not know is rejected
    When tenant "acme" uploads the overlay:
      """
      {"schema_version": 2, "vad": {"end_of_turn": 900}}
      """
    Then the upload is rejected naming "vad.end_of_turn"

  Scenario: A schema 1 overlay may not use a field schema 2 added
    When tenant "acme" uploads the overlay:
      """
      {"schema_version": 1, "prompt": {"greeting": "Hi"}}
      """
    Then the upload is rejected naming "prompt.greeting"

  Scenario: An agent definition edited in place under the same version is refused
    When the definition "support" version "1.0.0" is edited in place
    Then loading the definitions is refused naming "support/1.0.0.toml"

  Scenario: With PII redaction on, a spoken card number is masked in stored history and logs
    Given tenant "acme" has an overlay:
      """
      {"schema_version": 2, "guardrails": {"redact_pii": true}}
      """
    And tenant "globex" has an overlay:
      """
      {"schema_version": 2, "guardrails": {"redact_pii": false}}
      """
    And the LLM answers "card number" with "Thank you, I have noted 4111 2222 for you."
    When tenant "acme" calls
    And the caller says "my card number is four one one one two two two two"
    And tenant "globex" calls
    And the caller says "my card number is four one one one two two two two"
    Then tenant "acme"'s stored history and agent logs never contain "four one one one"
    And tenant "acme"'s stored history and agent logs never contain "4111 2222"
    And tenant "acme"'s stored history and agent logs contain "my card number is [number]"
    And tenant "acme"'s stored history and agent logs contain "i have noted [number] for you"
    And tenant "globex"'s stored history and agent logs contain "four one one one"
    And tenant "globex"'s stored history and agent logs contain "4111 2222"
    And call 1 heard "thank you i have noted"

  Scenario: The agent reports its answer and barge-in times against the tenant's budgets
    Given tenant "acme" has an overlay:
      """
      {"schema_version": 2, "budgets": {"turn_ms": 1234, "stop_ms": 321}}
      """
    And the LLM answers "opening hours" with "We are open from nine in the morning until half past five in the evening, Monday to Friday."
    When tenant "acme" calls
    And the caller says "what are your opening hours"
    And the caller interrupts 1.0 seconds into the agent's reply saying "actually I need to speak to someone"
    # Only reply_latency and barge_in_detected events carry a budget_ms.
    Then tenant "acme"'s stored history and agent logs contain '"kind":"reply_latency"'
    And tenant "acme"'s stored history and agent logs contain '"budget_ms":1234}'
    And tenant "acme"'s stored history and agent logs contain '"kind":"barge_in_detected"'
    And tenant "acme"'s stored history and agent logs contain '"budget_ms":321}'

  Scenario: A credential goes with the customer's tool calls but is never shown
    Given tenant "acme" has an overlay:
      """
      {"schema_version": 2, "credentials": {"crm_api_key": "sk-CANARY-SECRET-5150"}}
      """
    And the LLM answers "order number" by calling check_order for order "A123" and then says "Your {result}."
    And the tool check_order answers "order A123 has shipped"
    When tenant "acme" calls
    And the caller says "my order number is A one two three"
    And tenant "acme" reads its overlay
    Then the tool check_order was called with tenant "acme"'s credential "crm_api_key"
    And the caller hears "your order a123 has shipped"
    And the answer contains "[redacted]"
    And the answer does not show tenant "acme"'s credential "crm_api_key"
    And tenant "acme"'s config preview shows "credentials.crm_api_key" as "[redacted]" from the overlay
    And the answer does not show tenant "acme"'s credential "crm_api_key"
    And no record, history or agent log of tenant "acme" shows its credential "crm_api_key"

  Scenario: Business hours in an overlay written before schema 4 still load, and are named as ignored
    # Schema 4 retired rules.business_hours: nothing in the flow read them.
    # Stored overlays are data and keep loading; the field reaches no setting.
    Given tenant "acme" has an overlay:
      """
      {"schema_version": 3, "voice": "verse", "rules": {"business_hours": {"open": "09:00", "close": "17:00", "days": ["mon", "tue"]}}}
      """
    When tenant "acme" calls
    And the caller says "what are your opening hours"
    Then tenant "acme"'s config preview shows "voice" as "verse" from the overlay
    And tenant "acme"'s config preview ignores "rules.business_hours"
    And tenant "acme"'s stored history and agent logs contain '"ignored_fields":["rules.business_hours"]'

  Scenario: A schema 4 overlay may not set the retired business hours
    When tenant "acme" uploads the overlay:
      """
      {"schema_version": 4, "rules": {"business_hours": {"open": "09:00", "close": "17:00", "days": ["mon"]}}}
      """
    Then the upload is rejected naming "rules.business_hours"

  Scenario: The tenant's refund limit is enforced in code, whatever the LLM proposes
    Given tenant "acme" has an overlay:
      """
      {"schema_version": 2, "rules": {"refund_limit": 50}}
      """
    And the LLM answers "refund" by refunding 80 on order "A123" and then says "Your refund is on its way: {result}."
    When tenant "acme" calls
    And the caller says "what is the status of my refund"
    Then the agent refuses the tool issue_refund
    And the caller does not hear "your refund is on its way"
    And the caller hears "i'm sorry i'm not able to do that"

  Scenario: A refund within the tenant's limit goes through
    Given tenant "acme" has an overlay:
      """
      {"schema_version": 2, "rules": {"refund_limit": 50}}
      """
    And the LLM answers "refund" by refunding 30 on order "A123" and then says "Your refund is on its way: {result}."
    And the tool issue_refund answers "a refund of 30.00 was issued for order A123"
    When tenant "acme" calls
    And the caller says "what is the status of my refund"
    Then the agent runs issue_refund
    And the caller hears "a refund of 30.00 was issued for order A123"
