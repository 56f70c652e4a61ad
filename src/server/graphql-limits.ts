// Limits on the shape of GraphQL documents: depth, aliases, directives and cost (graphql-armor), and tokens
// (graphql-js's own parse option: armor's token plugin answers every syntax error with HTTP 500). In
// production, no error names what the schema has ("Did you mean …"): see hideSuggestions.
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, OperationTypeNode, type ValidationRule } from 'graphql';

export const DOCUMENT_LIMITS = {
  maxDepth: 10,
  maxAliases: 15,
  maxDirectives: 10,
  maxTokens: 1000,
  maxCost: 5000,
} as const;

// graphql-js ends a message with its suggestion: ` Did you mean "me"?`, `… the enum value "LOGIN"?`,
// `… "email", "code", or "purpose"?`, `… to use an inline fragment on "User"?`. Everything from there goes.
const SUGGESTION = /\s*Did you mean\b[\s\S]*$/;

/** Removes a suggestion from a message; any other message is returned as it is. */
export function withoutSuggestion(message: string): string {
  return message.replace(SUGGESTION, '');
}

/**
 * Strips "Did you mean …" from every error of a request before it is formatted: validation errors (fields,
 * arguments, types, enum literals) and variable coercion errors (enum values, input fields) alike. Apollo's
 * own hideSchemaDetailsFromClientErrors covers validation only, armor's blockFieldSuggestion misses enum values.
 */
export function hideSuggestions(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) error.message = withoutSuggestion(error.message);
        },
      };
    },
  };
}

/** The schema has no subscriptions: refuse one at validation (GRAPHQL_VALIDATION_FAILED), not at execution (a 500). */
export const noSubscriptions: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (node.operation === OperationTypeNode.SUBSCRIPTION && !context.getSchema().getSubscriptionType()) {
      context.reportError(new GraphQLError('This API has no subscriptions', { nodes: [node] }));
    }
  },
});

export function documentLimits(isProduction: boolean) {
  const armor = new ApolloArmor({
    maxDepth: { n: DOCUMENT_LIMITS.maxDepth, ignoreIntrospection: true },
    maxAliases: { n: DOCUMENT_LIMITS.maxAliases },
    maxDirectives: { n: DOCUMENT_LIMITS.maxDirectives },
    maxTokens: { enabled: false },
    costLimit: { maxCost: DOCUMENT_LIMITS.maxCost, ignoreIntrospection: true },
    blockFieldSuggestion: { enabled: false }, // replaced by hideSuggestions, which removes rather than masks
  }).protect();
  return {
    ...armor,
    validationRules: [...armor.validationRules, noSubscriptions],
    plugins: [...armor.plugins, ...(isProduction ? [hideSuggestions()] : [])],
  };
}
