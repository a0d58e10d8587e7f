// Words the page shows: roles, statuses, events, and errors in sentences
// rather than codes.

// roleNames are the names of the open property's custom roles, by ID, as
// the Roles tab last read them (setRoleNames).
let roleNames = {};
export const roleLabel = (role) => ({ admin: 'Admin', agent: 'Agent' }[role] || roleNames[role]
  || (String(role).startsWith('role-') ? 'Custom role' : role));
export function setRoleNames(roles) {
  roleNames = Object.fromEntries(roles.filter((r) => !r.builtin).map((r) => [r.id, r.name]));
}
// permissionLabel says a permission of the table in words: respond_to_chats
// is "Respond to chats".
export const permissionLabel = (p) => {
  const s = String(p).replaceAll('_', ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
};
export const statusLabel = (status) => ({ enabled: 'Enabled', disabled: 'Disabled' }[status] || status);

export const eventTypes = [
  'PropertyCreated', 'MemberInvited', 'InvitationResent', 'InvitationRevoked', 'InvitationDeclined',
  'InvitationAccepted', 'MemberJoined', 'MemberRoleChanged', 'MemberAccessDisabled', 'MemberAccessEnabled',
  'MemberRemoved', 'MemberLeft', 'OwnershipTransferred', 'InvitationPolicyChanged',
  'WebhookEndpointCreated', 'WebhookEndpointUpdated', 'WebhookEndpointDisabled', 'WebhookEndpointEnabled',
  'WebhookSecretRotated', 'WebhookEndpointDeleted',
  'RoleCreated', 'RoleRenamed', 'RolePermissionsChanged', 'RoleDeleted',
  'MemberAccessUntilChanged', 'MemberAccessExpired', 'MemberAccessEndingSoon',
];

const eventLabels = {
  PropertyCreated: 'Property created',
  PropertyRenamed: 'Property renamed',
  MemberInvited: 'Invited',
  InvitationResent: 'Invitation sent again',
  InvitationRevoked: 'Invitation deleted',
  InvitationDeclined: 'Invitation declined',
  InvitationAccepted: 'Invitation accepted',
  MemberJoined: 'Joined',
  MemberRoleChanged: 'Role changed',
  MemberAccessDisabled: 'Access disabled',
  MemberAccessEnabled: 'Access enabled',
  MemberRemoved: 'Removed',
  MemberLeft: 'Left',
  OwnershipTransferred: 'Ownership transferred',
  InvitationPolicyChanged: 'Invitation policy changed',
  WebhookEndpointCreated: 'Webhook added',
  WebhookEndpointUpdated: 'Webhook changed',
  WebhookEndpointDisabled: 'Webhook disabled',
  WebhookEndpointEnabled: 'Webhook enabled',
  WebhookSecretRotated: 'Webhook secret rotated',
  WebhookEndpointDeleted: 'Webhook deleted',
  RoleCreated: 'Role created',
  RoleRenamed: 'Role renamed',
  RolePermissionsChanged: 'Role permissions changed',
  RoleDeleted: 'Role deleted',
  MemberAccessUntilChanged: 'Access end changed',
  MemberAccessExpired: 'Access ended',
  MemberAccessEndingSoon: 'Told access ends soon',
};
export const eventLabel = (type) => eventLabels[type] || type;

// lifetimeLabel says a lifetime in seconds in its largest whole unit, as
// the server's messages do: "1 hour", "3 days".
export function lifetimeLabel(seconds) {
  for (const [n, unit] of [[86400, 'day'], [3600, 'hour'], [60, 'minute']]) {
    if (seconds > 0 && seconds % n === 0) {
      const k = seconds / n;
      return `${k} ${unit}${k === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}

// lifetimeChoices are the lifetimes the page offers, in seconds: the API
// takes any whole number of seconds from 1 hour to 30 days.
export const lifetimeChoices = [3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400];

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
export const formatDateTime = (iso) => (iso ? dateTime.format(new Date(iso)) : '');
export const formatDate = (iso) => (iso ? dateOnly.format(new Date(iso)) : '');

// What an error code means for the person in front of the page. The
// server's own message (detail) is used for the rest: it names the value.
const messages = {
  unauthenticated: 'Your session has ended. Please sign in again.',
  property_not_found: 'This property does not exist, or you no longer have access to it.',
  forbidden: 'You are not allowed to do this in this property.',
  access_disabled: 'Your access to this property is disabled.',
  invitation_expired: 'This invitation has expired. Ask an admin of the property to send you a new one.',
  invitation_revoked: 'This invitation was deleted by an admin of the property, so it can no longer be accepted.',
  invitation_accepted: 'This invitation has already been used: it was accepted before.',
  invitation_declined: 'This invitation was declined, so it can no longer be accepted.',
  invalid_token: 'This invitation link is not valid. If the invitation was sent again, use the link in the newest email.',
  email_unverified: 'Your email address is not verified, so you cannot accept invitations yet.',
  concurrent_modification: 'Someone else changed this property at the same moment. Please try again.',
  dev_login_off: 'Development sign-in is turned off on this server.',
};

// describeError turns an ApiError (or anything thrown) into a sentence.
export function describeError(err) {
  if (!err || !err.code) {
    return 'Roster cannot be reached right now. Check your connection and try again.';
  }
  if (err.code === 'internal') {
    return `Something went wrong on our side. Please try again${err.requestId ? ` (reference ${err.requestId})` : ''}.`;
  }
  if (err.code === 'not_invitee') {
    return 'This invitation was sent to another email address than the one you are signed in with.';
  }
  if (err.status === 429 || err.status === 503) {
    return `Roster is busy. Please try again${err.retryAfter ? ` in ${err.retryAfter} seconds` : ' in a moment'}.`;
  }
  return messages[err.code] || sentence(err.detail) || 'The request was refused.';
}

function sentence(text) {
  if (!text) return '';
  const s = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

// rowMessage is a sentence for one offending row of a request.
export const rowMessage = (problem) => sentence(problem.message || problem.code);

// notificationText says a notification in words.
export function notificationText(n) {
  const d = n.details || {};
  const where = n.property_name || 'a property';
  switch (n.kind) {
    case 'invitation_received':
      return `${d.invited_by_email || 'An admin'} invited you to ${where} as ${roleLabel(d.role)}.`;
    case 'role_changed':
      return `Your role in ${where} changed from ${roleLabel(d.from)} to ${roleLabel(d.to)}.`;
    case 'access_disabled':
      return `Your access to ${where} was disabled.`;
    case 'access_enabled':
      return `Your access to ${where} was enabled again.`;
    case 'removed_from_property':
      return `You were removed from ${where}.`;
    case 'access_ending':
      return `Your access to ${where} ends on ${formatDateTime(d.access_until)}.`;
    case 'access_expired':
      return `Your access to ${where} ended on ${formatDateTime(d.access_until)}.`;
    default:
      return `Something changed in ${where}.`;
  }
}
