import { createContext, type ReactNode, useContext, useState } from 'react';

export type Lang = 'en' | 'ru';

const en = {
  appName: 'Billfold',
  signIn: 'Sign in',
  signInTitle: 'Sign in to your account',
  email: 'Email',
  password: 'Password',
  signOut: 'Sign out',
  signedOut: 'You are signed out.',
  language: 'Language',
  navServices: 'Services',
  mainNavigation: 'Main navigation',
  openNavigation: 'Open navigation',
  services: 'Services',
  service: 'Service',
  status: 'Status',
  expires: 'Expires',
  ip: 'IP address',
  noServices: 'You have no services yet.',
  loading: 'Loading…',
  retry: 'Try again',
  newer: 'Newer',
  older: 'Older',
  back: 'All services',
  licenseKey: 'License key',
  copy: 'Copy',
  copied: 'Copied',
  keyCopied: 'The license key is in your clipboard.',
  keyBeingIssued: 'The key is being issued; it appears here when it is ready.',
  noLicense: 'This service has no license key.',
  operations: 'Operations',
  noOperations: 'Nothing is in progress.',
  operation: 'Operation',
  started: 'Started',
  period: 'Period',
  months: (n: number) => (n === 1 ? '1 month' : `${n} months`),
  autoRenew: 'Auto-renew',
  off: 'off',
  notFoundTitle: 'Not found',
  notFoundText: 'There is no such page, or it belongs to another account.',
  toServices: 'Go to your services',
  somethingWrong: 'Something went wrong',
  never: '—',
  serviceStatus: {
    ordered: 'ordered',
    processing: 'being set up',
    active: 'active',
    suspended: 'suspended',
    deleted: 'deleted',
  } as Record<string, string>,
  opKind: {
    open: 'Setting up',
    prolong: 'Renewal',
    suspend: 'Suspension',
    resume: 'Resumption',
    close: 'Removal',
    set_param: 'Change',
  } as Record<string, string>,
  opState: {
    being_set_up: 'being set up',
    in_progress: 'in progress',
    retrying: 'retrying after a temporary failure',
    waiting_for_staff: 'waiting for staff',
    done: 'done',
    failed: 'failed',
    cancelled: 'cancelled',
  } as Record<string, string>,
  errors: {
    invalid_credentials: 'The email or password is wrong. Check them and try again.',
    too_many_login_attempts: 'Too many sign-in attempts. Wait a few minutes, then try again.',
    unauthenticated: 'Your session has ended. Sign in again.',
    csrf_token_invalid: 'Your session is out of date. Reload the page and try again.',
    forbidden: 'You may not do this. Ask your provider if you need it.',
    service_not_found: 'There is no such service in your account.',
    validation_failed: 'Some fields are not filled in correctly. Check them and try again.',
    not_a_license: 'This service is not a license.',
    internal_error: 'The server failed. Try again later; if it persists, contact your provider.',
    network_error: 'The server cannot be reached. Check your connection and try again.',
    copy_failed: 'The browser did not allow copying. Select the key and copy it by hand.',
    // — order —
    service_param_required: 'This field is required.',
    invalid_ip: 'This is not an IPv4 or IPv6 address.',
    invalid_hostname:
      'This is not a host name (letters, digits, hyphens and dots, e.g. server1.example.com).',
    service_param_too_long: 'This is too long (255 characters at most).',
    tariff_not_orderable: 'This tariff can no longer be ordered.',
    period_not_offered: 'This period is not offered by the tariff.',
    enumeration_value_not_offered: 'This option is no longer offered. Choose another.',
    addon_value_out_of_range: 'An option is outside its allowed range.',
    addon_value_not_on_step: 'An option is not a whole number of its steps.',
    account_not_active: 'Your account is not active. Contact your provider.',
    // — service actions —
    insufficient_balance:
      'There is not enough money on your balance. Top it up and try again (an order can also be placed now and paid later).',
    trial_not_renewable: 'A trial cannot be renewed. Order a paid tariff instead.',
    service_not_renewable: 'This service cannot be renewed yet. Wait until it is set up, then try again.',
    tariff_expired: 'This tariff is no longer sold: it cannot be ordered or renewed.',
    service_deleted: 'This service has been deleted.',
    ip_taken: 'Another license already uses this IP address.',
    ip_change_limit:
      'The IP address can be changed once per calendar month; it has already been changed this month.',
    ip_change_pending: 'An IP address change is already on its way. Wait until it is done.',
    ip_change_unsupported: 'This license cannot change its IP address.',
    key_change_unsupported: 'This license cannot get a new key.',
    license_not_issued: 'The license is still being issued. Try again when its key is shown.',
  } as Record<string, string>,
  unknownError: (code: string) => `The request was refused (${code}). Try again or contact your provider.`,
  // — order —
  navOrder: 'Order',
  orderTitle: 'Order a service',
  orderNothing: 'Nothing can be ordered right now.',
  orderSteps: {
    product: 'Product',
    tariff: 'Tariff',
    options: 'Period and options',
    params: 'Parameters',
    quote: 'Price and payment',
  } as Record<string, string>,
  orderChooseProduct: 'What would you like to order?',
  orderChooseTariff: 'Choose a tariff',
  orderFrom: (price: string, currency: string, period: number) =>
    period === -100
      ? `trial: ${price} ${currency}`
      : `${price} ${currency} for ${period === 1 ? '1 month' : `${period} months`}`,
  orderSetupFee: (fee: string, currency: string) => `setup fee ${fee} ${currency}`,
  orderTariffEnds: (date: string) => `can be ordered until ${date}`,
  orderTrial: (days: number) => `Trial, ${days} days`,
  orderNotForPeriod: 'not offered for this period',
  orderIncluded: 'included',
  orderAddonIncluded: (n: number, unit: string) => (unit ? `${n} ${unit} included` : `${n} included`),
  orderAddonUnitPrice: (price: string, unit: string) => `${price} per ${unit || 'unit'} above that`,
  orderNoParams: 'This product needs no parameters.',
  orderParam: {
    hostname: 'Host name',
    ip: 'IP address',
    os_template: 'Operating system',
    licname: 'License name',
  } as Record<string, string>,
  orderParamHint: {
    hostname: 'For example server1.example.com',
    ip: 'The address the license is bound to, e.g. 203.0.113.10',
    os_template: 'For example Ubuntu 22.04',
  } as Record<string, string>,
  orderBack: 'Back',
  orderNext: 'Next',
  orderQuote: 'Price',
  orderFromTo: (start: string, end: string) => `from ${start} to ${end}`,
  orderCutTitle: 'The tariff ends before the period does',
  orderCutText: (end: string, naturalEnd: string, granted: number, full: number) =>
    `The service runs until ${end} instead of ${naturalEnd}: you pay for ${granted} of ${full} days.`,
  orderCutLine: (granted: number, full: number, amount: string, fullAmount: string) =>
    `${granted} of ${full} days, ${amount} (full period ${fullAmount})`,
  orderTotal: 'Total',
  orderPayNow: (total: string) => `Pay ${total} from balance`,
  orderPayLater: 'Order, pay later',
  orderBalance: (balance: string) => `Your balance: ${balance}.`,
  orderPaid: (id: number) => `Order ${id} is paid; your service is being set up.`,
  orderPlacedTitle: (id: number) => `Order ${id} is awaiting payment`,
  orderPlacedText: (total: string) =>
    `It is paid from your balance, ${total}, as soon as the balance covers it; the service is set up then.`,
  // — service actions —
  renewTitle: 'Renewal',
  renewPreview: 'Renew…',
  renewQuoteTitle: 'Before you pay',
  renewDays: (granted: number, full: number, total: string, currency: string) =>
    `${granted} of ${full} days, ${total} ${currency}`,
  renewRange: (start: string, end: string) => `From ${start} until ${end}.`,
  renewCut: (end: string) =>
    `The tariff is sold until ${end}, so the renewal stops there and is charged by days.`,
  renewResumes: 'The suspended service is resumed.',
  renewPay: (total: string, currency: string) => `Pay ${total} ${currency} and renew`,
  renewed: (expiresOn: string) => `Renewed: the service now runs until ${expiresOn}.`,
  cancel: 'Cancel',
  autoRenewSwitch: 'Renew automatically from the balance',
  autoRenewOn: 'Auto-renew is on.',
  autoRenewOff: 'Auto-renew is off.',
  licenseActions: 'License address and key',
  ipRuleLabel: 'IP change rule',
  ipRule:
    'The IP address of a license can be changed once per calendar month; the address given at order and setting the same address again do not count.',
  ipRuleAllowed: (last: string | null) =>
    last === null
      ? 'It has not been changed yet, so you can change it now.'
      : `It was last changed on ${last}; you can change it now.`,
  ipRuleNotNow: (last: string | null, next: string | null) =>
    `It was last changed on ${last ?? '—'}, so the next change is possible from ${next ?? '—'}.`,
  newIp: 'New IP address',
  changeIp: 'Change IP',
  ipChangeAsked: 'The IP address change is done or on its way.',
  ipChangeRefused: 'The IP address was not changed',
  ipChangeLimit: (next: string) =>
    `This license's IP address has already been changed this month. It can be changed once per calendar month; the next change is possible from ${next}.`,
  pendingIp: (ip: string) => `Moving to ${ip}: in progress.`,
  pendingKey: 'A new key is being issued.',
  pendingRetry: (message: string) => `Retrying after: ${message}`,
  lastRefusedTitle: 'The last change was refused',
  lastIpRefused: (ip: string, message: string) => `Moving to ${ip} was refused: ${message}`,
  lastKeyRefused: (message: string) => `The new key was refused: ${message}`,
  newKey: 'Issue a new key',
  newKeyAsked: 'A new key is issued or on its way.',
  deleteTitle: 'Delete the service',
  deletePreview: 'Delete…',
  deleteQuoteTitle: 'What deleting does',
  deleteStaffOnly: 'Only staff can delete this kind of service. Ask your provider if you need it.',
  deletePending: 'The deletion is already on its way.',
  deleteRefund: (refund: string, currency: string, days: number) =>
    `Deleting refunds ${refund} ${currency} to your balance for ${days} unused days. It cannot be undone.`,
  deleteNoRefund:
    'This kind of service does not refund unused days: nothing is returned. It cannot be undone.',
  deleteConfirm: 'Delete the service',
  deleteAsked: 'Deletion requested: the service is removed shortly.',
  history: 'History',
  noHistory: 'Nothing has happened yet.',
  when: 'When',
  what: 'What',
  who: 'Who',
  historyEvent: {
    ordered: 'Ordered',
    renewed: 'Renewed',
    renewed_automatically: 'Renewed automatically',
    autoprolong_changed: 'Auto-renew changed',
    ip_change_requested: 'IP change asked',
    ip_changed: 'IP address changed',
    key_change_requested: 'New key asked',
    key_changed: 'New key issued',
    delete_requested: 'Deletion asked',
    suspend_requested: 'Suspension asked',
    resume_requested: 'Resumption asked',
    operation_open_done: 'Set up',
    operation_prolong_done: 'Renewed upstream',
    operation_close_done: 'Removed',
    operation_suspend_done: 'Suspended',
    operation_resume_done: 'Resumed',
    operation_set_param_done: 'Change done',
  } as Record<string, string>,
};

type Messages = typeof en;

const ru: Messages = {
  appName: 'Billfold',
  signIn: 'Войти',
  signInTitle: 'Вход в личный кабинет',
  email: 'Эл. почта',
  password: 'Пароль',
  signOut: 'Выйти',
  signedOut: 'Вы вышли из кабинета.',
  language: 'Язык',
  navServices: 'Услуги',
  mainNavigation: 'Основное меню',
  openNavigation: 'Открыть меню',
  services: 'Услуги',
  service: 'Услуга',
  status: 'Состояние',
  expires: 'Действует до',
  ip: 'IP-адрес',
  noServices: 'У вас пока нет услуг.',
  loading: 'Загрузка…',
  retry: 'Повторить',
  newer: 'Новее',
  older: 'Старше',
  back: 'Все услуги',
  licenseKey: 'Лицензионный ключ',
  copy: 'Копировать',
  copied: 'Скопировано',
  keyCopied: 'Лицензионный ключ скопирован в буфер обмена.',
  keyBeingIssued: 'Ключ выпускается; он появится здесь, когда будет готов.',
  noLicense: 'У этой услуги нет лицензионного ключа.',
  operations: 'Операции',
  noOperations: 'Сейчас ничего не выполняется.',
  operation: 'Операция',
  started: 'Начата',
  period: 'Период',
  months: (n: number) => `${n} мес.`,
  autoRenew: 'Автопродление',
  off: 'выключено',
  notFoundTitle: 'Не найдено',
  notFoundText: 'Такой страницы нет, или она принадлежит другому клиенту.',
  toServices: 'К вашим услугам',
  somethingWrong: 'Что-то пошло не так',
  never: '—',
  serviceStatus: {
    ordered: 'заказана',
    processing: 'подключается',
    active: 'активна',
    suspended: 'приостановлена',
    deleted: 'удалена',
  },
  opKind: {
    open: 'Подключение',
    prolong: 'Продление',
    suspend: 'Приостановка',
    resume: 'Возобновление',
    close: 'Удаление',
    set_param: 'Изменение',
  },
  opState: {
    being_set_up: 'подключается',
    in_progress: 'выполняется',
    retrying: 'повтор после временной ошибки',
    waiting_for_staff: 'ждёт сотрудника',
    done: 'выполнена',
    failed: 'не удалась',
    cancelled: 'отменена',
  },
  errors: {
    invalid_credentials: 'Неверная почта или пароль. Проверьте их и попробуйте снова.',
    too_many_login_attempts: 'Слишком много попыток входа. Подождите несколько минут и попробуйте снова.',
    unauthenticated: 'Сеанс завершён. Войдите снова.',
    csrf_token_invalid: 'Сеанс устарел. Обновите страницу и повторите действие.',
    forbidden: 'Это действие вам недоступно. Обратитесь к провайдеру, если оно нужно.',
    service_not_found: 'В вашем кабинете нет такой услуги.',
    validation_failed: 'Некоторые поля заполнены неверно. Проверьте их и попробуйте снова.',
    not_a_license: 'Эта услуга не является лицензией.',
    internal_error: 'Ошибка на сервере. Попробуйте позже; если повторяется, обратитесь к провайдеру.',
    network_error: 'Сервер недоступен. Проверьте подключение и попробуйте снова.',
    copy_failed: 'Браузер не разрешил копирование. Выделите ключ и скопируйте его вручную.',
    // — order —
    service_param_required: 'Это поле обязательно.',
    invalid_ip: 'Это не IPv4- или IPv6-адрес.',
    invalid_hostname: 'Это не имя хоста (буквы, цифры, дефисы и точки, например server1.example.com).',
    service_param_too_long: 'Слишком длинно (не более 255 символов).',
    tariff_not_orderable: 'Этот тариф больше нельзя заказать.',
    period_not_offered: 'Тариф не предлагает этот период.',
    enumeration_value_not_offered: 'Этот вариант больше не предлагается. Выберите другой.',
    addon_value_out_of_range: 'Значение опции вне допустимого диапазона.',
    addon_value_not_on_step: 'Значение опции не кратно её шагу.',
    account_not_active: 'Ваш аккаунт не активен. Обратитесь к провайдеру.',
    // — service actions —
    insufficient_balance:
      'На балансе недостаточно средств. Пополните его или закажите сейчас и оплатите позже.',
    trial_not_renewable: 'Пробный период продлить нельзя. Закажите платный тариф.',
    service_not_renewable: 'Эту услугу пока нельзя продлить. Дождитесь её подключения и попробуйте снова.',
    tariff_expired: 'Этот тариф больше не продаётся: его нельзя заказать или продлить.',
    service_deleted: 'Эта услуга удалена.',
    ip_taken: 'Этот IP-адрес уже занят другой лицензией.',
    ip_change_limit: 'IP-адрес можно менять раз в календарный месяц; в этом месяце его уже меняли.',
    ip_change_pending: 'Смена IP-адреса уже выполняется. Дождитесь её завершения.',
    ip_change_unsupported: 'У этой лицензии нельзя сменить IP-адрес.',
    key_change_unsupported: 'Этой лицензии нельзя выпустить новый ключ.',
    license_not_issued: 'Лицензия ещё выпускается. Попробуйте снова, когда появится ключ.',
  },
  unknownError: (code: string) => `Запрос отклонён (${code}). Попробуйте снова или обратитесь к провайдеру.`,
  // — order —
  navOrder: 'Заказать',
  orderTitle: 'Заказ услуги',
  orderNothing: 'Сейчас нечего заказать.',
  orderSteps: {
    product: 'Продукт',
    tariff: 'Тариф',
    options: 'Период и опции',
    params: 'Параметры',
    quote: 'Цена и оплата',
  },
  orderChooseProduct: 'Что вы хотите заказать?',
  orderChooseTariff: 'Выберите тариф',
  orderFrom: (price: string, currency: string, period: number) =>
    period === -100 ? `пробный: ${price} ${currency}` : `${price} ${currency} за ${period} мес.`,
  orderSetupFee: (fee: string, currency: string) => `подключение ${fee} ${currency}`,
  orderTariffEnds: (date: string) => `можно заказать до ${date}`,
  orderTrial: (days: number) => `Пробный период, ${days} дн.`,
  orderNotForPeriod: 'не предлагается на этот период',
  orderIncluded: 'включено',
  orderAddonIncluded: (n: number, unit: string) => `${n} ${unit} включено`,
  orderAddonUnitPrice: (price: string, unit: string) => `${price} за ${unit || 'единицу'} сверх этого`,
  orderNoParams: 'Для этого продукта параметры не нужны.',
  orderParam: {
    hostname: 'Имя хоста',
    ip: 'IP-адрес',
    os_template: 'Операционная система',
    licname: 'Имя лицензии',
  },
  orderParamHint: {
    hostname: 'Например, server1.example.com',
    ip: 'Адрес, к которому привязана лицензия, например 203.0.113.10',
    os_template: 'Например, Ubuntu 22.04',
  },
  orderBack: 'Назад',
  orderNext: 'Далее',
  orderQuote: 'Цена',
  orderFromTo: (start: string, end: string) => `с ${start} по ${end}`,
  orderCutTitle: 'Тариф заканчивается раньше периода',
  orderCutText: (end: string, naturalEnd: string, granted: number, full: number) =>
    `Услуга действует до ${end} вместо ${naturalEnd}: вы платите за ${granted} из ${full} дн.`,
  orderCutLine: (granted: number, full: number, amount: string, fullAmount: string) =>
    `${granted} из ${full} дн., ${amount} (полный период ${fullAmount})`,
  orderTotal: 'Итого',
  orderPayNow: (total: string) => `Оплатить ${total} с баланса`,
  orderPayLater: 'Заказать, оплатить позже',
  orderBalance: (balance: string) => `Ваш баланс: ${balance}.`,
  orderPaid: (id: number) => `Заказ ${id} оплачен; услуга подключается.`,
  orderPlacedTitle: (id: number) => `Заказ ${id} ожидает оплаты`,
  orderPlacedText: (total: string) =>
    `Он будет оплачен с баланса (${total}), как только средств хватит; тогда же услуга будет подключена.`,
  // — service actions —
  renewTitle: 'Продление',
  renewPreview: 'Продлить…',
  renewQuoteTitle: 'Перед оплатой',
  renewDays: (granted: number, full: number, total: string, currency: string) =>
    `${granted} из ${full} дн., ${total} ${currency}`,
  renewRange: (start: string, end: string) => `С ${start} по ${end}.`,
  renewCut: (end: string) =>
    `Тариф продаётся до ${end}, поэтому продление заканчивается в этот день и считается по дням.`,
  renewResumes: 'Приостановленная услуга будет возобновлена.',
  renewPay: (total: string, currency: string) => `Оплатить ${total} ${currency} и продлить`,
  renewed: (expiresOn: string) => `Продлено: услуга действует до ${expiresOn}.`,
  cancel: 'Отмена',
  autoRenewSwitch: 'Продлевать автоматически с баланса',
  autoRenewOn: 'Автопродление включено.',
  autoRenewOff: 'Автопродление выключено.',
  licenseActions: 'Адрес и ключ лицензии',
  ipRuleLabel: 'Правило смены IP',
  ipRule:
    'IP-адрес лицензии можно менять раз в календарный месяц; адрес, указанный при заказе, и повторная установка того же адреса не считаются.',
  ipRuleAllowed: (last: string | null) =>
    last === null
      ? 'Адрес ещё не меняли, сменить его можно сейчас.'
      : `Последняя смена — ${last}; сменить адрес можно сейчас.`,
  ipRuleNotNow: (last: string | null, next: string | null) =>
    `Последняя смена — ${last ?? '—'}, следующая возможна с ${next ?? '—'}.`,
  newIp: 'Новый IP-адрес',
  changeIp: 'Сменить IP',
  ipChangeAsked: 'Смена IP-адреса выполнена или выполняется.',
  ipChangeRefused: 'IP-адрес не изменён',
  ipChangeLimit: (next: string) =>
    `IP-адрес этой лицензии уже меняли в этом месяце. Его можно менять раз в календарный месяц; следующая смена возможна с ${next}.`,
  pendingIp: (ip: string) => `Перенос на ${ip}: выполняется.`,
  pendingKey: 'Выпускается новый ключ.',
  pendingRetry: (message: string) => `Повтор после ошибки: ${message}`,
  lastRefusedTitle: 'Последнее изменение отклонено',
  lastIpRefused: (ip: string, message: string) => `Перенос на ${ip} отклонён: ${message}`,
  lastKeyRefused: (message: string) => `Новый ключ отклонён: ${message}`,
  newKey: 'Выпустить новый ключ',
  newKeyAsked: 'Новый ключ выпущен или выпускается.',
  deleteTitle: 'Удаление услуги',
  deletePreview: 'Удалить…',
  deleteQuoteTitle: 'Что произойдёт при удалении',
  deleteStaffOnly: 'Такую услугу может удалить только сотрудник. Обратитесь к провайдеру, если это нужно.',
  deletePending: 'Удаление уже выполняется.',
  deleteRefund: (refund: string, currency: string, days: number) =>
    `При удалении на баланс вернётся ${refund} ${currency} за неиспользованные дни (${days}). Отменить удаление нельзя.`,
  deleteNoRefund: 'За неиспользованные дни такой услуги деньги не возвращаются. Отменить удаление нельзя.',
  deleteConfirm: 'Удалить услугу',
  deleteAsked: 'Удаление запрошено: услуга скоро будет удалена.',
  history: 'История',
  noHistory: 'Пока ничего не происходило.',
  when: 'Когда',
  what: 'Что',
  who: 'Кто',
  historyEvent: {
    ordered: 'Заказана',
    renewed: 'Продлена',
    renewed_automatically: 'Продлена автоматически',
    autoprolong_changed: 'Изменено автопродление',
    ip_change_requested: 'Запрошена смена IP',
    ip_changed: 'IP-адрес изменён',
    key_change_requested: 'Запрошен новый ключ',
    key_changed: 'Выпущен новый ключ',
    delete_requested: 'Запрошено удаление',
    suspend_requested: 'Запрошена приостановка',
    resume_requested: 'Запрошено возобновление',
    operation_open_done: 'Подключена',
    operation_prolong_done: 'Продлена у поставщика',
    operation_close_done: 'Удалена',
    operation_suspend_done: 'Приостановлена',
    operation_resume_done: 'Возобновлена',
    operation_set_param_done: 'Изменение выполнено',
  },
};

export const MESSAGES: Record<Lang, Messages> = { en, ru };

const STORED = 'billfold.lang';

/** The language chosen with the switch, else the browser's (Russian when it prefers it). */
function initialLang(): Lang {
  const stored = window.localStorage.getItem(STORED);
  if (stored === 'en' || stored === 'ru') return stored;
  return window.navigator.language.toLowerCase().startsWith('ru') ? 'ru' : 'en';
}

const I18n = createContext<{ lang: Lang; t: Messages; setLang: (l: Lang) => void } | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = (l: Lang) => {
    window.localStorage.setItem(STORED, l);
    document.documentElement.lang = l;
    setLangState(l);
  };
  return <I18n.Provider value={{ lang, t: MESSAGES[lang], setLang }}>{children}</I18n.Provider>;
}

export function useI18n() {
  const v = useContext(I18n);
  if (!v) throw new Error('useI18n outside I18nProvider');
  return v;
}

/** What to tell the user about a refused request: the sentence for its code, or a generic one naming it. */
export const errorSentence = (t: Messages, code: string): string => t.errors[code] ?? t.unknownError(code);
