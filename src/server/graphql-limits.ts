// Limits on the shape of GraphQL documents: depth, aliases, directives and cost (graphql-armor), and tokens
// (graphql-js's own parse option: armor's token plugin answers every syntax error with HTTP 500). In
// production, field suggestions ("Did you mean …") are blocked too.
import { ApolloArmor } from '@escape.tech/graphql-armor';

export const DOCUMENT_LIMITS = {
  maxDepth: 10,
  maxAliases: 15,
  maxDirectives: 10,
  maxTokens: 1000,
  maxCost: 5000,
} as const;

export function documentLimits(isProduction: boolean) {
  return new ApolloArmor({
    maxDepth: { n: DOCUMENT_LIMITS.maxDepth, ignoreIntrospection: true },
    maxAliases: { n: DOCUMENT_LIMITS.maxAliases },
    maxDirectives: { n: DOCUMENT_LIMITS.maxDirectives },
    maxTokens: { enabled: false },
    costLimit: { maxCost: DOCUMENT_LIMITS.maxCost, ignoreIntrospection: true },
    blockFieldSuggestion: { enabled: isProduction },
  }).protect();
}
