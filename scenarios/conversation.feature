@conversation
Feature: Conversation
  The reference agent greets callers, answers their questions and keeps a
  faithful history of the call.

  Scenario: The agent greets the caller
    When the caller says "hi I would like to check on my order"
    Then the caller hears "Hello, thanks for calling Acme support. How can I help you today?"
    And the agent's history holds only the words the caller heard

  Scenario: One question and one answer
    Given the LLM answers "opening hours" with "We are open from nine to five, Monday to Friday."
    When the caller says "what are your opening hours"
    Then the caller hears "we are open from nine to five, Monday to Friday"
    And the agent's history holds the caller's words "what are your opening hours" as one turn
    And every turn is answered within 2000 ms

  Scenario: A conversation over several turns, with a tool call
    Given the LLM answers "check on my order" with "Sure. What is your order number?"
    And the LLM answers "order number" by calling check_order for order "A123" and then says "Thanks. Your {result}."
    And the tool check_order answers "order A123 is being packed"
    And the LLM answers "thank you" with "You are welcome. Goodbye!"
    When the caller says "hi I would like to check on my order"
    And the caller says "my order number is A one two three"
    And the caller says "thank you that is all I needed"
    Then the agent runs check_order
    And the caller hears "what is your order number"
    And the caller hears "your order A123 is being packed"
    And the caller hears "you are welcome"
    And the agent's history holds only the words the caller heard

  Scenario: A tool that fails goes back to the LLM, and the caller hears why
    Given the LLM answers "order number" by calling check_order for order "A123" and then says "Thanks. Your {result}."
    And the tool check_order fails with "504 Gateway Timeout from the order service"
    When the caller says "my order number is A one two three"
    Then the agent runs check_order
    And the caller hears "i'm sorry i'm not able to do that"
    And the caller does not hear "thanks your"

  Scenario: A pause inside the caller's sentence does not end the turn
    Given the LLM answers "delivery address" with "Yes, you can change it until the order ships."
    When the caller says "can I change my delivery address" pausing 450 ms after "change"
    Then the agent's history holds the caller's words "can I change my delivery address" as one turn
    And the caller hears "yes you can change it until the order ships"

  Scenario: A pause past the end of turn, before the agent answers, is still one turn
    Given the LLM answers "delivery address" with "Yes, you can change it until the order ships."
    When the caller says "can I change my delivery address" pausing 900 ms after "change"
    Then the agent's history holds the caller's words "can I change my delivery address" as one turn
    And the caller hears "yes you can change it until the order ships"
    And the agent's history holds only the words the caller heard

  Scenario: A long silence gets a re-prompt
    Given the agent re-prompts after 5 seconds of silence
    And the LLM answers "opening hours" with "We are open from nine to five."
    When the caller stays silent for 7 seconds
    And the caller says "what are your opening hours"
    Then the caller hears "are you still there"
    And the caller hears "we are open from nine to five"
    And the agent's history holds only the words the caller heard

  Scenario: The agent recovers from an LLM error
    Given the LLM fails on its first request
    And the LLM answers "opening hours" with "We are open from nine to five."
    When the caller says "what are your opening hours"
    And the caller says "what are your opening hours"
    Then the caller hears "Sorry, I had a problem with that. Could you repeat your question?"
    And the caller hears "we are open from nine to five"
    And the agent recovers from the LLM failure

  Scenario: The caller says goodbye and the agent ends the call
    Given the LLM answers "goodbye" by calling end_call
    When the caller says "goodbye"
    Then the caller hears "thank you for calling goodbye"
    And the agent ends the call
    And the agent's history holds only the words the caller heard

  Scenario: A caller who never speaks is told goodbye
    Given the agent re-prompts after 3 seconds of silence
    When the caller stays silent for 30 seconds
    Then the caller hears "are you still there"
    And the caller hears "thank you for calling goodbye"
    And the agent ends the call
